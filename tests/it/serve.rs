//! Goal: `sim serve` runs a scenario's network on loopback and its payer API answers as
//! documented: a payment through real ISO 8583 links is approved and journaled, a retry with
//! the same idempotency key answers the same payment, bad requests get a 4xx and book nothing,
//! a restart after `kill -9` recovers from the journal, and `sim journal check` agrees. Method:
//! the binary itself, started by the test on port 0, driven with plain HTTP/1.1 over a socket.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

/// Held by the tests whose figures depend on timing, so that they do not run together.
static TIMED: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn timed() -> std::sync::MutexGuard<'static, ()> {
    TIMED.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sim"))
}

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &std::path::Path) -> Server {
    start_at(dir, "20")
}

fn start_at(dir: &std::path::Path, speedup: &str) -> Server {
    spawn_server(dir, "127.0.0.1:0", speedup, &[])
}

/// `sim serve` of the small scenario with the journal and keys in `dir`, once it has said
/// where it listens.
fn spawn_server(
    dir: &std::path::Path,
    listen: &str,
    speedup: &str,
    extra: &[&std::ffi::OsStr],
) -> Server {
    spawn_server_of("tests/data/small.toml", dir, listen, speedup, extra)
}

/// `sim serve` of `scenario`, as [`spawn_server`].
fn spawn_server_of(
    scenario: &str,
    dir: &std::path::Path,
    listen: &str,
    speedup: &str,
    extra: &[&std::ffi::OsStr],
) -> Server {
    let mut child = sim()
        .args(["serve", scenario, "--listen", listen, "--speedup", speedup])
        .arg("--journal")
        .arg(dir.join("journal.sqlite"))
        .arg("--keys")
        .arg(dir.join("keys.toml"))
        .args(extra)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("one line");
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_string();
    Server { child, addr }
}

/// One request; the status code and the body.
fn http(addr: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connects");
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).expect("writes");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("reads");
    let code = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (code, body)
}

fn token(dir: &std::path::Path, name: &str) -> String {
    let text = std::fs::read_to_string(dir.join("keys.toml")).expect("keys");
    let tokens = text.split("[tokens]").nth(1).expect("a tokens table");
    let line = tokens.lines().find(|l| l.starts_with(name)).expect("the originator's token");
    line.split('"').nth(1).expect("quoted").to_string()
}

const QR: &str = "00020101021130320007m5@kb0101060000050207Bank 015204599953031165802KH5906Shop 56010Phnom Penh63045875";

fn pay(key: &str, amount: &str) -> String {
    format!(
        r#"{{"qr":"{QR}","amount":"{amount}","currency":"KHR","payer":"p1","idempotency_key":"{key}"}}"#
    )
}

fn check(addr: &str, token: Option<&str>, body: &str, code: u16, says: &str) {
    assert!(!says.is_empty(), "an empty expected text matches anything");
    let (got, text) = http(addr, "POST", "/v1/payments", token, body);
    assert_eq!(got, code, "{body:.80}: {text}");
    assert!(text.contains(says), "{body:.80}: {text}");
}

#[test]
fn payments_go_through_real_links_and_the_journal_survives_kill_9() {
    let dir = std::env::temp_dir().join(format!("bakong-sim-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = sim()
        .args(["keys", "generate", "tests/data/small.toml", "--out"])
        .arg(dir.join("keys.toml"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again = sim()
        .args(["keys", "generate", "tests/data/small.toml", "--out"])
        .arg(dir.join("keys.toml"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("runs");
    assert_eq!(again.status.code(), Some(2), "an existing key file must not be overwritten");
    let bank = token(&dir, "kh_bank_0");

    let server = start(&dir);
    let addr = server.addr.clone();
    assert_eq!(http(&addr, "GET", "/healthz", None, "").0, 200);
    check(&addr, Some(&bank), &pay("k1", "40000"), 200, r#""status":"approved""#);
    check(&addr, Some(&bank), &pay("k1", "40000"), 200, r#""payment_id":1"#);
    // Bad requests: a 4xx that says what, and nothing booked.
    check(&addr, Some(&bank), &pay("k1", "41000"), 422, "idempotency key");
    check(&addr, None, &pay("k9", "40000"), 401, "bearer token");
    check(&addr, Some("not-a-token-of-anyone"), &pay("k9", "40000"), 401, "bearer token");
    check(&addr, Some(&bank), "{not json", 400, "not a payment request");
    check(
        &addr,
        Some(&bank),
        &pay("k9", "40000").replace("}", r#","extra":1}"#),
        400,
        "unknown field",
    );
    check(&addr, Some(&bank), &pay("k9", "-5"), 400, "amount");
    check(&addr, Some(&bank), &pay("k9", "40000").replace("Shop 5", "Shop 6"), 400, "qr");
    check(&addr, Some(&bank), &format!(r#"{{"qr":"{}"}}"#, "x".repeat(20_000)), 413, "over");
    remittances(&addr, &bank, &token(&dir, "cn_issuer_0"));
    for i in 2..=19 {
        check(&addr, Some(&bank), &pay(&format!("k{i}"), "25000"), 200, r#""status":"#);
    }
    let (_, metrics) = http(&addr, "GET", "/metrics", None, "");
    assert!(metrics.contains(r#"bakong_frames_refused_total{reason="bad_mac"} 0"#), "{metrics}");
    assert!(metrics.contains("bakong_payments_total{flow=\"domestic\""), "{metrics}");

    // kill -9 and restart on the same journal: every answer given is still there.
    drop(server);
    let server = start(&dir);
    let (code, status) = http(&server.addr, "GET", "/v1/payments/1", Some(&bank), "");
    assert_eq!(code, 200, "{status}");
    assert!(status.contains(r#""status":"approved""#), "{status}");
    check(&server.addr, Some(&bank), &pay("k1", "40000"), 200, r#""payment_id":1"#);
    check(&server.addr, Some(&bank), &pay("k21", "40000"), 200, r#""payment_id":21"#);
    drop(server);
    let out =
        sim().args(["journal", "check"]).arg(dir.join("journal.sqlite")).output().expect("runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}");
    assert!(
        report.contains(r#""payments_final": 21"#) && report.contains(r#""duplicates": 0"#),
        "{report}"
    );
    std::fs::remove_dir_all(&dir).expect("cleans up");
}

/// A remittance to a card at a Chinese issuer is approved; the ways one can be wrong get a
/// 4xx that says which.
fn remittances(addr: &str, bank: &str, issuer: &str) {
    let remit = |key: &str, to: &str, account: &str, currency: &str| {
        format!(
            r#"{{"recipient":{{"institution":"{to}","account":"{account}"}},"amount":"400000","currency":"{currency}","payer":"p2","idempotency_key":"{key}"}}"#
        )
    };
    let card = "6212345678901234";
    let both = remit("r2", "cn_issuer_1", card, "KHR")
        .replace(r#""amount""#, &format!(r#""qr":"{QR}","amount""#));
    for (sender, body, code, says) in [
        (bank, remit("r1", "cn_issuer_1", card, "KHR"), 200, r#""status":"approved""#),
        (bank, remit("r2", "cn_issuer_99", card, "KHR"), 422, "no Chinese issuer"),
        (bank, remit("r2", "cn_issuer_1", "62123456789x", "KHR"), 400, "12 to 19 digits"),
        (bank, remit("r2", "cn_issuer_1", card, "CNY"), 400, "KHR or USD"),
        (bank, both, 400, "either qr"),
        (issuer, remit("r2", "cn_issuer_1", card, "KHR"), 400, "cannot send remittances"),
    ] {
        check(addr, Some(sender), &body, code, says);
    }
}

#[test]
fn it_binds_loopback_only_and_leaves_other_files_alone() {
    let dir = std::env::temp_dir().join(format!("bakong-sim-serve-refuse-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let keys = dir.join("keys.toml");
    assert!(
        sim()
            .args(["keys", "generate", "tests/data/small.toml", "--out"])
            .arg(&keys)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("runs")
            .success()
    );
    let notes = dir.join("notes.txt");
    std::fs::write(&notes, "my notes, not a journal").expect("writes");
    for (listen, journal, says) in [
        ("0.0.0.0:0", dir.join("j.sqlite"), "not a loopback address"),
        ("127.0.0.1:0", notes.clone(), "journal"),
    ] {
        let out = sim()
            .args(["serve", "tests/data/small.toml", "--listen", listen, "--keys"])
            .arg(&keys)
            .arg("--journal")
            .arg(&journal)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{listen}: {stderr}");
        assert!(stderr.contains(says), "{stderr}");
    }
    assert_eq!(std::fs::read_to_string(&notes).expect("reads"), "my notes, not a journal");
    std::fs::remove_dir_all(&dir).expect("cleans up");
}

fn summary_ms(dir: &std::path::Path, table: &str, key: &str) -> f64 {
    let text = std::fs::read_to_string(dir.join("summary.json")).expect("a summary");
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    v[table][key].as_f64().unwrap_or_else(|| panic!("{table}.{key} in {text}"))
}

/// A 2-second stall of the server in the middle of a 6-second run at 200 requests a second on
/// 4 connections: the 400 requests due during the stall wait for its end, so a third of all
/// requests take between 0 and 2 s from their intended time, uniformly, and the corrected p99
/// is 2 s × (1 − 0.01 × 6 / 2) = 1.94 s and p90 1.4 s (the test measures the stall as it
/// happened and checks against that). Measured from when a connection sent
/// them (what a closed-loop tool reports), only the 4 requests in flight saw the stall: under
/// 1 %, so that p99 stays small.
#[test]
#[allow(clippy::disallowed_methods)] // It times the stall it makes, in real time.
fn a_stall_shows_in_the_corrected_latency_as_theory_says_and_not_in_the_service_time() {
    let _timed = timed();
    let dir = std::env::temp_dir().join(format!("bakong-sim-pause-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let keys = dir.join("keys.toml");
    assert!(
        sim()
            .args(["keys", "generate", "tests/data/small.toml", "--out"])
            .arg(&keys)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("runs")
            .success()
    );
    std::fs::write(dir.join("request.json"), pay("{n}", "40000")).expect("writes");
    let server = start_at(&dir, "100");
    let out = dir.join("report");
    let mut load = sim()
        .args([
            "load",
            "tests/data/small.toml",
            "--target",
            &format!("http://{}", server.addr),
            "--rate",
            "200",
            "--duration-s",
            "6",
            "--connections",
            "4",
        ])
        .arg("--request")
        .arg(dir.join("request.json"))
        .arg("--keys")
        .arg(&keys)
        .arg("--out")
        .arg(&out)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    std::thread::sleep(std::time::Duration::from_millis(2000));
    let pid = server.child.id().to_string();
    // The stall as it happened: at least from the STOP's return to the CONT's issue, at most
    // from the STOP's issue to the CONT's return (on a busy machine `kill` itself takes time).
    let before_stop = std::time::Instant::now();
    assert!(Command::new("kill").args(["-STOP", &pid]).status().expect("kill").success());
    let stopped = std::time::Instant::now();
    std::thread::sleep(std::time::Duration::from_millis(2000));
    let before_cont = std::time::Instant::now();
    assert!(Command::new("kill").args(["-CONT", &pid]).status().expect("kill").success());
    let stall_ms_max =
        before_cont.elapsed().as_secs_f64() * 1e3 + (before_cont - before_stop).as_secs_f64() * 1e3;
    let stall_ms_min = (before_cont - stopped).as_secs_f64() * 1e3;
    assert!(load.wait().expect("finishes").success());
    let (p99, p90) = (summary_ms(&out, "latency_ms", "p99"), summary_ms(&out, "latency_ms", "p90"));
    let service_p99 = summary_ms(&out, "service_ms", "p99");
    // A stall of T: p99 = T − 60 ms and p90 = T − 600 ms; 250 ms below for timing, and 700 ms
    // above for the backlog the server works off after it (400 requests on 4 connections),
    // which on a machine busy with the other tests took up to 480 ms more than theory (p90
    // 1,884 ms after a stall of 2,002 to 2,014 ms, in CI).
    let (low, high) = (stall_ms_min - 250.0, stall_ms_max + 700.0);
    assert!(
        (low - 60.0..=high - 60.0).contains(&p99),
        "corrected p99 {p99} ms; a stall of {stall_ms_min:.0} to {stall_ms_max:.0} ms"
    );
    assert!(
        (low - 600.0..=high - 600.0).contains(&p90),
        "corrected p90 {p90} ms; a stall of {stall_ms_min:.0} to {stall_ms_max:.0} ms"
    );
    assert!(service_p99 < 500.0, "the service time's p99 {service_p99} ms shows the stall");
    drop(server);
    // The stall made payers give up (their timeout is 150 ms at this speed-up): reversals raced
    // their own requests, and the books must still agree with every outcome.
    let out =
        sim().args(["journal", "check"]).arg(dir.join("journal.sqlite")).output().expect("runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}");
    assert!(report.contains(r#""payments_final": 1200"#), "{report}");
    std::fs::remove_dir_all(&dir).expect("cleans up");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("binds").local_addr().expect("addr").port()
}

fn start_on(dir: &std::path::Path, port: u16) -> Server {
    spawn_server(dir, &format!("127.0.0.1:{port}"), "50", &[])
}

/// Payers send payments on 4 connections while the server is killed with `kill -9` three times
/// at seeded moments and restarted on the same journal and port; a payer whose request got no
/// answer sends it again with the same idempotency key. Afterwards: every key is one payment in
/// the journal, every answer a payer got agrees with the journal, every reversal advice the
/// restarts sent is acknowledged, and `sim journal check` passes.
#[test]
fn kill_9_under_load_loses_nothing_and_books_nothing_twice() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let dir = std::env::temp_dir().join(format!("bakong-sim-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    assert!(
        sim()
            .args(["keys", "generate", "tests/data/small.toml", "--out"])
            .arg(dir.join("keys.toml"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("runs")
            .success()
    );
    let bank = token(&dir, "kh_bank_0");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let server = Arc::new(Mutex::new(start_on(&dir, port)));
    let stop = Arc::new(AtomicBool::new(false));
    let answers: Arc<Mutex<Vec<(String, u16, String)>>> = Arc::default();
    let payers: Vec<_> = (0..4)
        .map(|t| {
            let (addr, bank, stop, answers) =
                (addr.clone(), bank.clone(), stop.clone(), answers.clone());
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let key = format!("c{t}-{i}");
                    // Until it gets an answer: a request lost in a crash is sent again.
                    for _ in 0..200 {
                        let sent = std::panic::catch_unwind(|| {
                            http(&addr, "POST", "/v1/payments", Some(&bank), &pay(&key, "40000"))
                        });
                        match sent {
                            Ok((code, body)) if code != 0 => {
                                answers.lock().expect("lock").push((key.clone(), code, body));
                                break;
                            }
                            _ => std::thread::sleep(std::time::Duration::from_millis(20)),
                        }
                    }
                    i += 1;
                }
            })
        })
        .collect();
    // Three kills at seeded moments between 0.4 and 1.2 s apart.
    let mut seed: u64 = 20_260_217;
    for _ in 0..3 {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        std::thread::sleep(std::time::Duration::from_millis(400 + (seed >> 33) % 800));
        let mut s = server.lock().expect("lock");
        s.child.kill().expect("kill -9");
        s.child.wait().expect("reaped");
        *s = start_on(&dir, port);
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    for p in payers {
        p.join().expect("payer thread");
    }
    std::thread::sleep(std::time::Duration::from_millis(500)); // The last advices are answered.
    {
        let mut s = server.lock().expect("lock");
        s.child.kill().expect("kill");
        s.child.wait().expect("reaped");
    }
    verify_against_the_journal(&dir, &answers.lock().expect("lock"));
    std::fs::remove_dir_all(&dir).expect("cleans up");
}

/// Every key is one payment in the journal, and every final answer a payer got is its outcome;
/// the recovery reversed something; the journal check passes with every advice acknowledged.
fn verify_against_the_journal(dir: &std::path::Path, answers: &[(String, u16, String)]) {
    assert!(answers.len() > 100, "only {} answers", answers.len());
    let db = rusqlite::Connection::open(dir.join("journal.sqlite")).expect("opens");
    for (key, code, body) in answers.iter() {
        assert!(*code == 200 || *code == 202, "{key}: {code} {body}");
        let v: serde_json::Value = serde_json::from_str(body).expect("JSON");
        let id = v["payment_id"].as_i64().expect("an id");
        let rows: Vec<(i64, Option<String>)> = db
            .prepare("SELECT id, outcome FROM payments WHERE idempotency_key = ?1")
            .expect("query")
            .query_map([key], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(rows.len(), 1, "{key} is {} payments", rows.len());
        assert_eq!(rows[0].0, id, "{key}");
        if *code == 200 {
            assert_eq!(
                rows[0].1.as_deref(),
                v["status"].as_str(),
                "{key}: the payer was told {body}"
            );
        }
    }
    let reversals: i64 =
        db.query_row("SELECT count(*) FROM reversals", [], |r| r.get(0)).expect("count");
    // Seen: 8 to 12 over three runs (4 payers in flight at each of 3 kills).
    assert!(reversals > 0, "no kill caught a payment in flight: recovery was not exercised");
    let out =
        sim().args(["journal", "check"]).arg(dir.join("journal.sqlite")).output().expect("runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}");
    assert!(
        report.contains(r#""duplicates": 0"#) && report.contains(r#""reversals_open": 0"#),
        "{report}"
    );
}

/// The frames `sim serve` sent on its links during a run (sign-ons, domestic and inward
/// payments through the switch and UPI) are read by `pyiso8583` to the fields we wrote.
#[test]
fn frames_captured_from_a_run_read_alike_in_pyiso8583() {
    use bakong_sim::payments::qr::{CodeKind, EncodeSpec, encode};
    let dir = std::env::temp_dir().join(format!("bakong-sim-capture-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    assert!(
        sim()
            .args(["keys", "generate", "tests/data/small.toml", "--out"])
            .arg(dir.join("keys.toml"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("runs")
            .success()
    );
    let capture = dir.join("frames.hex");
    let server = spawn_server(
        &dir,
        "127.0.0.1:0",
        "20",
        &["--capture-frames".as_ref(), capture.as_os_str()],
    );
    let inward = encode(&EncodeSpec {
        kind: CodeKind::Merchant,
        account_id: Some("m7@kb02".into()),
        merchant_name: Some("Shop 7".into()),
        merchant_city: Some("Siem Reap".into()),
        merchant_id: Some("000007".into()),
        acquiring_bank: Some("Bank 02".into()),
        currency_numeric: Some(116),
        upi_account: Some("2599000230000002000000000000007".into()),
        ..EncodeSpec::default()
    })
    .expect("a valid code");
    let (bank, issuer) = (token(&dir, "kh_bank_0"), token(&dir, "cn_issuer_0"));
    for i in 0..5 {
        check(&server.addr, Some(&bank), &pay(&format!("d{i}"), "40000"), 200, r#""status":"#);
        let body = format!(
            r#"{{"qr":"{inward}","amount":"52000","currency":"KHR","payer":"wallet-{i}","idempotency_key":"i{i}"}}"#
        );
        check(&server.addr, Some(&issuer), &body, 200, r#""status":"#);
    }
    drop(server);
    let frames: Vec<Vec<u8>> = std::fs::read_to_string(&capture)
        .expect("a capture")
        .lines()
        .map(|l| {
            (0..l.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&l[i..i + 2], 16).expect("hex"))
                .collect()
        })
        .collect();
    let mtis: std::collections::BTreeSet<&[u8]> = frames.iter().map(|f| &f[..4]).collect();
    for mti in [b"0800", b"0810", b"0200", b"0210"] {
        assert!(mtis.contains(&mti[..]), "no {} captured", String::from_utf8_lossy(mti));
    }
    let key = bakong_sim::payments::network::iso8583::MacKey::new([7; 32]);
    assert_eq!(crate::iso8583::check_with_pyiso8583(&frames, &key), 200);
    std::fs::remove_dir_all(&dir).expect("cleans up");
}

/// Payments per flow, and per flow and outcome class, of a run.
#[derive(Default, Debug)]
struct Counts {
    by_flow: std::collections::BTreeMap<String, f64>,
    by_class: std::collections::BTreeMap<(String, String), f64>,
}

impl Counts {
    fn add(&mut self, flow: &str, class: &str, n: f64) {
        // A late approval is an approval; the load report does not tell them apart.
        let class = if class == "approved_late" { "approved" } else { class };
        *self.by_flow.entry(flow.to_string()).or_default() += n;
        *self.by_class.entry((flow.to_string(), class.to_string())).or_default() += n;
    }
}

/// Goal: a scenario's real-time run (`sim serve` and `sim load` at 120x, over real sockets)
/// and its simulated run (`sim run`) agree on the payments per flow and on each flow's
/// outcome classes, within sampling error. Method: the realtime scenario, an hour of an
/// evening whose flows each have their own decline classes of several percent, so a decline
/// drawn for the wrong flow or at the wrong place shows; the payments per flow are Poisson on
/// both sides (|a - b| <= 4 sqrt(a + b)), and each class's share of its flow is compared with
/// a two-proportion z test at 4 standard errors (the pooled share floored at 5 payments, so a
/// class both runs almost never see does not fail on one stray payment). About 5,700
/// payments; 30 s of real time.
#[test]
fn a_real_time_run_agrees_with_the_simulated_run_per_flow_and_outcome_class() {
    let _timed = timed();
    let scenario = "tests/data/realtime.toml";
    let dir = std::env::temp_dir().join(format!("bakong-sim-agree-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let run = |args: &[std::ffi::OsString]| {
        let out = sim().args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().expect("runs");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let os = |s: &str| std::ffi::OsString::from(s);
    let (keys, simulated, measured) = (dir.join("keys.toml"), dir.join("sim"), dir.join("load"));
    run(&[os("run"), os(scenario), os("--out"), simulated.clone().into()]);
    run(&[os("keys"), os("generate"), os(scenario), os("--out"), keys.clone().into()]);
    let server = spawn_server_of(scenario, &dir, "127.0.0.1:0", "120", &[]);
    run(&[
        os("load"),
        os(scenario),
        os("--target"),
        os(&format!("http://{}", server.addr)),
        os("--speedup"),
        os("120"),
        os("--duration-s"),
        os("30"),
        os("--keys"),
        keys.into(),
        os("--out"),
        measured.clone().into(),
    ]);
    drop(server);

    let mut sim_counts = Counts::default();
    let text = std::fs::read_to_string(simulated.join("summary.json")).expect("a summary");
    let summary: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    for (flow, f) in summary["flows"].as_object().expect("flows") {
        for (class, n) in f["outcomes"].as_object().expect("outcomes") {
            sim_counts.add(flow, class, n.as_f64().expect("a count"));
        }
    }
    let mut load_counts = Counts::default();
    let text = std::fs::read_to_string(measured.join("outcomes.csv")).expect("outcomes");
    for line in text.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        load_counts.add(cells[0], cells[1], cells[2].parse().expect("a count"));
    }
    assert_eq!(
        sim_counts.by_flow.keys().collect::<Vec<_>>(),
        load_counts.by_flow.keys().collect::<Vec<_>>(),
        "both runs have every flow"
    );
    let mut table = String::from("flow,class,simulated,measured,z\n");
    let mut worst = 0.0f64;
    for (flow, &a) in &sim_counts.by_flow {
        let b = load_counts.by_flow[flow];
        let z = (a - b).abs() / (a + b).sqrt();
        table += &format!("{flow},(payments),{a},{b},{z:.2}\n");
        worst = worst.max(z);
    }
    let classes: std::collections::BTreeSet<_> =
        sim_counts.by_class.keys().chain(load_counts.by_class.keys()).cloned().collect();
    for (flow, class) in classes {
        let key = (flow.clone(), class.clone());
        let (x, y) = (
            sim_counts.by_class.get(&key).copied().unwrap_or(0.0),
            load_counts.by_class.get(&key).copied().unwrap_or(0.0),
        );
        let (n, m) = (sim_counts.by_flow[&flow], load_counts.by_flow[&flow]);
        let pooled = ((x + y) / (n + m)).max(5.0 / n.min(m));
        let se = (pooled * (1.0 - pooled) * (1.0 / n + 1.0 / m)).sqrt();
        let z = (x / n - y / m).abs() / se;
        table += &format!("{flow},{class},{x},{y},{z:.2}\n");
        worst = worst.max(z);
    }
    assert!(worst <= 4.0, "a count or share differs by more than 4 standard errors:\n{table}");
    assert!(sim_counts.by_flow.values().sum::<f64>() > 5_000.0, "{table}");
    std::fs::remove_dir_all(&dir).expect("cleans up");
}

/// Goal: `sim load --model-check` writes `model-check.md`: the CPU a payment cost, measured
/// from the server's `/metrics` and the generator's own, the simulator's prediction per flow
/// from a run of the scenario with that service time, and the command that reproduces it; with
/// `--rate` it is refused. Method: a 4-second run of the realtime scenario against a server
/// with `--no-far-delays`; the figures are checked for being there and sane (the agreement
/// itself is measured by benches/model-check.sh, not asserted on a shared test machine).
#[test]
fn the_model_check_writes_the_prediction_beside_the_measurement() {
    let _timed = timed();
    let scenario = "tests/data/realtime.toml";
    let dir = std::env::temp_dir().join(format!("bakong-sim-model-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let keys = dir.join("keys.toml");
    let generated = sim()
        .args(["keys", "generate", scenario, "--out"])
        .arg(&keys)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("runs");
    assert!(generated.success());
    let no_delays = std::ffi::OsString::from("--no-far-delays");
    let server = spawn_server_of(scenario, &dir, "127.0.0.1:0", "60", &[&no_delays]);
    let load = |extra: &[&str], out: &str| {
        sim()
            .args(["load", scenario, "--target", &format!("http://{}", server.addr)])
            .args(["--speedup", "60", "--rate-multiplier", "5", "--duration-s", "4"])
            .args(["--model-check", "--keys"])
            .arg(&keys)
            .args(extra)
            .arg("--out")
            .arg(dir.join(out))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("runs")
    };
    let refused = load(&["--rate", "10", "--request", "x.json"], "refused");
    assert_eq!(refused.status.code(), Some(2), "{}", String::from_utf8_lossy(&refused.stderr));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("leave out --rate"));
    let out = load(&[], "report");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    drop(server);
    let md = std::fs::read_to_string(dir.join("report/model-check.md")).expect("model-check.md");
    for flow in ["domestic", "inward", "outward", "remittance"] {
        let row = md
            .lines()
            .find(|l| l.starts_with(&format!("| {flow} |")))
            .unwrap_or_else(|| panic!("no {flow} row in\n{md}"));
        let ms: Vec<f64> = row
            .split('|')
            .filter_map(|c| c.trim().strip_suffix(" ms"))
            .map(|c| c.parse().expect("a figure"))
            .collect();
        assert_eq!(ms.len(), 4, "{row}");
        assert!(ms.iter().all(|&v| v > 0.0 && v < 5_000.0), "{row}");
        assert!(ms[0] <= ms[2] && ms[1] <= ms[3], "p50 above p99: {row}");
    }
    let service = md
        .lines()
        .find(|l| l.starts_with("| CPU per payment"))
        .and_then(|l| l.split('|').nth(2))
        .and_then(|c| c.trim().strip_suffix(" ms"))
        .and_then(|c| c.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no service time in\n{md}"));
    assert!(service > 0.0 && service < 100.0, "{service} ms a payment");
    assert!(md.contains("--set 'nodes.bakong_switch="), "{md}");
    // The report folder over time: every request due is in timeseries.csv, and the plots.
    let report = dir.join("report");
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(report.join("summary.json")).expect("summary"),
    )
    .expect("JSON");
    let series = std::fs::read_to_string(report.join("timeseries.csv")).expect("timeseries");
    let due: u64 = series
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).expect("due").parse::<u64>().expect("a count"))
        .sum();
    assert_eq!(Some(due), summary["sent"].as_u64(), "{series}");
    for file in
        ["histograms.hlog", "plots/latency.svg", "plots/latency.png", "plots/throughput.svg"]
    {
        assert!(std::fs::metadata(report.join(file)).is_ok_and(|m| m.len() > 100), "{file}");
    }
    std::fs::remove_dir_all(&dir).expect("cleans up");
}

/// Goal: every link stays visibly alive without payments: the side that signed on sends an
/// echo (0800, DE 70 = 301) every `--echo-every-s`, the other side answers it, and `/metrics`
/// counts both; an interval of 0 is refused. Method: the small scenario's 22 links at one echo
/// a second, idle for 2.5 s.
#[test]
fn idle_links_echo_and_the_echoes_are_answered() {
    let dir = std::env::temp_dir().join(format!("bakong-sim-echo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let keys = dir.join("keys.toml");
    let generated = sim()
        .args(["keys", "generate", "tests/data/small.toml", "--out"])
        .arg(&keys)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("runs");
    assert!(generated.success());
    let zero = sim()
        .args(["serve", "tests/data/small.toml", "--echo-every-s", "0", "--keys"])
        .arg(&keys)
        .arg("--journal")
        .arg(dir.join("zero.sqlite"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("runs");
    assert_eq!(zero.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&zero.stderr).contains("--echo-every-s must be 1 to 3600"));
    let (flag, every) = (std::ffi::OsString::from("--echo-every-s"), std::ffi::OsString::from("1"));
    let server = spawn_server(&dir, "127.0.0.1:0", "20", &[&flag, &every]);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let (_, metrics) = http(&server.addr, "GET", "/metrics", None, "");
    let count = |result: &str| -> u64 {
        let key = format!("bakong_link_echoes_total{{result=\"{result}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&key))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {key} in\n{metrics}"))
    };
    let (sent, answered) = (count("sent"), count("answered"));
    assert!(answered >= 22, "22 links, {answered} echoes answered in 2.5 s");
    assert!(sent >= answered && sent <= 22 * 3, "{sent} sent, {answered} answered");
    drop(server);
    std::fs::remove_dir_all(&dir).expect("cleans up");
}

/// Goal: an originator that gets no answer before its timeout tells the payer `pending`, asks
/// with status inquiries (0600) instead of reversing at once, and a late approval settles the
/// payment as approved, booked once. Method: the small scenario with the member banks' service
/// slowed to 10–12 s (past the domestic timeout of 8 s, inside the switch's 14 s deadline
/// here and the inquiry window of 45 s) at 100x; a domestic payment answers 202, then its
/// status turns to approved, with inquiries counted and the journal consistent.
#[test]
fn a_payment_past_its_timeout_is_inquired_about_and_approved_late() {
    let dir = std::env::temp_dir().join(format!("bakong-sim-inquiry-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let small = std::fs::read_to_string(root.join("tests/data/small.toml")).expect("reads");
    let slow = small
        .replace(
            "kh_bank        = { servers = 96,  queue_max = 10_000, service_ms = [80, 500],",
            "kh_bank        = { servers = 96,  queue_max = 10_000, service_ms = [10000, 12000],",
        )
        .replace(
            "bakong_switch  = { servers = 128, queue_max = 20_000, service_ms = [15, 80], other_service_ms = [4, 20] }",
            "bakong_switch  = { servers = 128, queue_max = 20_000, service_ms = [15, 80], other_service_ms = [4, 20], deadline_s = 14 }",
        );
    assert_eq!(slow.matches("10000, 12000").count() + slow.matches("deadline_s = 14").count(), 2);
    let scenario = dir.join("slow.toml");
    std::fs::write(&scenario, &slow).expect("writes");
    let generated = sim()
        .args(["keys", "generate"])
        .arg(&scenario)
        .arg("--out")
        .arg(dir.join("keys.toml"))
        .status()
        .expect("runs");
    assert!(generated.success());
    let server =
        spawn_server_of(scenario.to_str().expect("UTF-8"), &dir, "127.0.0.1:0", "100", &[]);
    let bank = token(&dir, "kh_bank_0");
    let (code, first) =
        http(&server.addr, "POST", "/v1/payments", Some(&bank), &pay("slow-1", "40000"));
    assert_eq!(code, 202, "{first}");
    assert!(first.contains(r#""status":"pending""#), "{first}");
    let mut status = String::new();
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        status = http(&server.addr, "GET", "/v1/payments/1", Some(&bank), "").1;
        if !status.contains("pending") {
            break;
        }
    }
    assert!(status.contains(r#""status":"approved""#), "{status}");
    let (_, metrics) = http(&server.addr, "GET", "/metrics", None, "");
    let count = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
    };
    assert!(count("bakong_status_inquiries_total") >= 1, "{metrics}");
    assert_eq!(count("bakong_reversal_advices_sent_total"), 0, "nothing to reverse");
    drop(server);
    let out =
        sim().args(["journal", "check"]).arg(dir.join("journal.sqlite")).output().expect("runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}");
    assert!(report.contains(r#""payments_final": 1"#), "{report}");
    std::fs::remove_dir_all(&dir).expect("cleans up");
}
