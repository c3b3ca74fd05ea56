//! Goal: the `sim qr` commands keep the exact shapes other tools script against (JSON keys,
//! exit codes 0/1/2, errors on stderr that say where and what).
//!
//! Method: run the built binary on vectors and broken inputs, parse its stdout as JSON.

use std::process::Output;

use serde_json::Value;

use crate::support::{scratch, sim};

const G09: &str = "00020101021230370011coffee@devb01061234560208Dev Bank520458125303840540510.255802KH5912Coffee Klang6010Phnom Penh62630105#00010211855875758570310Klang BKK10709Counter 20808Latte x2993400131735689600000011317356905000006304C13F";

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("stdout is not JSON ({e}): {}", String::from_utf8_lossy(&output.stdout))
    })
}

#[test]
fn decode_prints_kind_tags_and_typed_fields() {
    let out = sim(&["qr", "decode", G09], None);
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["kind"], "khqr");
    assert_eq!(v["tags"]["30"]["01"], "123456");
    assert_eq!(v["tags"]["62"]["08"], "Latte x2");
    assert_eq!(v["merchant_id"], "123456");
    assert_eq!(v["currency"], "USD");
    assert_eq!(v["amount"], "10.25");
    assert_eq!(v["created_at_ms"], 1_735_689_600_000_u64);
    assert_eq!(v["expires_at_ms"], 1_735_690_500_000_u64);
    assert_eq!(v["md5"], "89b941549d877a26f91ce8f767eb8e65");
    assert_eq!(v["crc"], "C13F");
    for key in [
        "account_id",
        "merchant_name",
        "merchant_city",
        "acquiring_bank",
        "account_information",
        "mcc",
        "country",
        "bill_number",
        "mobile_number",
        "store_label",
        "terminal_label",
        "purpose",
        "language_preference",
        "merchant_name_alt",
        "merchant_city_alt",
        "upi_account",
    ] {
        assert!(v.get(key).is_some(), "key {key} present");
    }
}

#[test]
fn decode_of_a_broken_payload_exits_2_and_says_where() {
    let broken = G09.replace("Coffee Klang", "Coffee Klanh");
    let out = sim(&["qr", "decode", &broken], None);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("CRC mismatch") && stderr.contains("C13F"), "{stderr}");
    assert_eq!(json(&out)["kind"], "unknown");
}

#[test]
fn decode_recognises_url_codes() {
    for (payload, kind) in [
        ("wxp://f2f0XO9MxuKhCB52abc", "wechat_url"),
        ("weixin://wxpay/bizpayurl?pr=AbCdEfG", "wechat_url"),
        ("https://qr.95516.com/00010000/0123456789", "unionpay_url"),
    ] {
        let out = sim(&["qr", "decode", payload], None);
        assert_eq!(out.status.code(), Some(0), "{payload}");
        assert_eq!(json(&out)["kind"], kind, "{payload}");
    }
}

#[test]
fn verify_exit_codes_and_json() {
    let ok = sim(&["qr", "verify", G09, "--now-ms", "1735689600000"], None);
    assert_eq!(ok.status.code(), Some(0));
    assert_eq!(json(&ok)["valid"], true);
    let expired = sim(&["qr", "verify", G09, "--now-ms", "1735690500001"], None);
    assert_eq!(expired.status.code(), Some(1));
    let v = json(&expired);
    assert_eq!(v["valid"], false);
    assert_eq!(v["error_code"], 46);
    assert_eq!(v["rule"], "khqr.expired");
    assert!(v["message"].as_str().expect("message").contains("99/01"));
    // V13 ("KHM"): strict refuses, SDK-compatible accepts.
    let v13 = "00020101021129180014jonhsmith@nbcq5204599953031165803KHM5910Jonh Smith6010Phnom Penh63044EC7";
    assert_eq!(sim(&["qr", "verify", v13, "--now-ms", "0"], None).status.code(), Some(1));
    let compat = sim(&["qr", "verify", v13, "--now-ms", "0", "--sdk-compatible"], None);
    assert_eq!(compat.status.code(), Some(0));
    assert_eq!(json(&compat)["mode"], "sdk_compatible");
    assert_eq!(sim(&["qr", "verify"], None).status.code(), Some(2), "usage error");
}

#[test]
fn encode_reads_a_spec_and_reports_bad_keys_with_their_place() {
    let spec = r##"{"kind":"merchant","account_id":"coffee@devb","merchant_name":"Coffee Klang",
        "merchant_id":"123456","acquiring_bank":"Dev Bank","currency":"USD","amount":10.25,
        "mcc":"5812","bill_number":"#0001","mobile_number":"85587575857","store_label":"Klang BKK1",
        "terminal_label":"Counter 2","purpose":"Latte x2","created_at_ms":1735689600000,
        "expires_at_ms":1735690500000}"##;
    let out = sim(&["qr", "encode", "-"], Some(spec));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), G09);

    let typo = sim(&["qr", "encode", "-"], Some("{\"kind\":\"individual\",\n\"amout\":5}"));
    assert_eq!(typo.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&typo.stderr);
    assert!(stderr.contains("unknown field `amout`") && stderr.contains("line 2"), "{stderr}");

    let rule = sim(
        &["qr", "encode", "-"],
        Some(
            r#"{"kind":"individual","account_id":"a@b","merchant_name":"A","currency":"KHR","amount":"100.5","expires_at_ms":1735689660000}"#,
        ),
    );
    assert_eq!(rule.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&rule.stderr);
    assert!(stderr.contains("key `amount`") && stderr.contains("SDK error 4"), "{stderr}");

    let missing = sim(&["qr", "encode", "/nonexistent/spec.json"], None);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/spec.json"));
}

fn clearing_record(
    party: bakong_sim::payments::clearing::Party,
    i: u64,
) -> bakong_sim::payments::clearing::ClearingRecord {
    use bakong_sim::payments::clearing::{ClearingRecord, MessageKind, Rrn, Status};
    use bakong_sim::payments::money::{Currency, Money};
    use bakong_sim::payments::time::{Date, Timestamp};
    ClearingRecord {
        party,
        business_date: Date::new(2026, 2, 16).expect("date"),
        kind: MessageKind::Purchase,
        rrn: Rrn::new(600_000_000_000 + i).expect("rrn"),
        trace_number: i as u32,
        original_rrn: None,
        payment_id: i,
        transfer_id: i,
        quote_id: i,
        qr_md5: String::new(),
        amount: Money::new(Currency::Khr, 40_000),
        billed: Money::new(Currency::Cny, 6_903),
        fx_rate: "0.001725639752".parse().expect("rate"),
        fee: Money::new(Currency::Khr, 400),
        status: Status::Approved,
        at: Timestamp::from_nanos(1_771_200_000_000_000_000 + i),
    }
}

/// The clearing files a run writes are the files `sim recon` reads: reconciling them day by
/// day (each day with the network's next day for late presentments) finds exactly the breaks
/// the run's own `reconciliation.csv` lists, row for row.
#[test]
fn recon_of_a_runs_clearing_files_finds_the_runs_breaks() {
    let dir = scratch("recon-run");
    let path = |f: &str| dir.join(f).display().to_string();
    let run = sim(&["run", "tests/data/small.toml", "--quiet", "--out", &path("run")], None);
    assert!(run.status.code().is_some_and(|c| c <= 1), "{}", String::from_utf8_lossy(&run.stderr));
    let mut dates: Vec<String> = std::fs::read_dir(dir.join("run/clearing"))
        .expect("the run wrote its clearing files")
        .map(|e| e.expect("entry").file_name().into_string().expect("UTF-8"))
        .filter_map(|n| Some(n.strip_prefix("switch-")?.strip_suffix(".csv")?.to_owned()))
        .collect();
    dates.sort();
    assert_eq!(dates, ["2026-02-16", "2026-02-17"]);
    let mut found = String::new();
    for (i, date) in dates.iter().enumerate() {
        let file = |party: &str, d: &str| path(&format!("run/clearing/{party}-{d}.csv"));
        let out = path(&format!("recon-{date}"));
        let (ours, theirs) = (file("switch", date), file("upi", date));
        let mut args = vec!["recon", "--ours", &ours, "--theirs", &theirs, "--out", &out];
        let next = dates.get(i + 1).map(|d| file("upi", d));
        if let Some(next) = &next {
            args.extend(["--theirs-next", next.as_str()]);
        }
        let recon = sim(&args, None);
        assert_eq!(recon.status.code(), Some(1), "{}", String::from_utf8_lossy(&recon.stderr));
        let text = std::fs::read_to_string(dir.join(format!("recon-{date}/reconciliation.csv")))
            .expect("written");
        let rows =
            if i == 0 { text.lines().collect::<Vec<_>>() } else { text.lines().skip(1).collect() };
        for row in rows {
            found.push_str(row);
            found.push('\n');
        }
    }
    let run_breaks = std::fs::read_to_string(dir.join("run/reconciliation.csv")).expect("written");
    assert!(run_breaks.lines().count() > 10, "the small scenario injects exceptions");
    assert_eq!(found, run_breaks);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn recon_writes_its_outputs_and_exits_1_on_breaks() {
    use bakong_sim::payments::clearing::{Party, write_clearing_file};
    let dir = scratch("recon");
    let ours: Vec<_> = (0..3).map(|i| clearing_record(Party::Switch, i)).collect();
    let theirs: Vec<_> = (0..2).map(|i| clearing_record(Party::Upi, i)).collect();
    std::fs::write(dir.join("switch.csv"), write_clearing_file(&ours)).expect("write");
    std::fs::write(dir.join("upi.csv"), write_clearing_file(&theirs)).expect("write");
    let path = |f: &str| dir.join(f).display().to_string();
    let out = sim(
        &[
            "recon",
            "--ours",
            &path("switch.csv"),
            "--theirs",
            &path("upi.csv"),
            "--out",
            &path("out"),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let breaks = std::fs::read_to_string(dir.join("out/reconciliation.csv")).expect("written");
    assert_eq!(breaks.lines().count(), 2);
    assert!(breaks.lines().nth(1).expect("row").starts_with(
        "missing_at_network,600000000002,purchase,ours,2,approved,,40000,,KHR,-40000,reversal"
    ));
    let summary = std::fs::read_to_string(dir.join("out/recon-summary.csv")).expect("written");
    assert!(summary.contains("missing_at_network,1,40000,0,0"), "{summary}");
    // Agreeing files exit 0.
    let same = sim(
        &[
            "recon",
            "--ours",
            &path("upi.csv"),
            "--theirs",
            &path("upi.csv"),
            "--out",
            &path("out2"),
        ],
        None,
    );
    assert_eq!(same.status.code(), Some(0));
    // A truncated file is an input error naming the file and line; no output is written.
    let text = write_clearing_file(&theirs);
    std::fs::write(dir.join("cut.csv"), &text[..text.len() - 5]).expect("write");
    let cut = sim(
        &[
            "recon",
            "--ours",
            &path("switch.csv"),
            "--theirs",
            &path("cut.csv"),
            "--out",
            &path("out3"),
        ],
        None,
    );
    assert_eq!(cut.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&cut.stderr);
    assert!(
        stderr.contains("cut.csv") && stderr.contains("line 4") && stderr.contains("truncated"),
        "{stderr}"
    );
    assert!(!dir.join("out3").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn run_writes_the_report_folder_and_exits_by_its_slos() {
    let dir = scratch("run");
    let out_dir = dir.join("report");
    let small = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/small.toml");
    let out = sim(
        &["run", small, "--seed", "5", "--quiet", "--out", out_dir.to_str().expect("utf-8")],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The small scenario's outage makes its inward p99 and approval SLOs fail: exit 1.
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let last = stdout.lines().last().expect("a last line");
    assert!(
        last.starts_with("wall ") && last.contains("events/s") && last.contains("payments/s"),
        "{last}"
    );
    for file in [
        "summary.json",
        "summary.md",
        "latency.csv",
        "timeseries.csv",
        "nodes.csv",
        "settlement.csv",
        "scheme-settlement.csv",
        "reconciliation.csv",
    ] {
        assert!(out_dir.join(file).is_file(), "{file} missing");
    }
    let mut beside: Vec<String> = std::fs::read_dir(&dir)
        .expect("read")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    beside.sort();
    assert_eq!(beside, [".report.bakong-sim.lock", "report"], "no half-written folder left");
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).expect("read"))
            .expect("JSON");
    assert_eq!(summary["seed"], 5);
    assert_eq!(summary["scenario"], "small");
    assert_eq!(summary["ledger"]["invariants_ok"], true);
    for flow in ["inward", "outward", "remittance", "domestic"] {
        assert!(summary["flows"][flow]["payments_count"].as_u64().expect("count") > 0, "{flow}");
    }
    let slo = summary["slo"].as_array().expect("list");
    assert!(slo.iter().any(|v| v["passed"] == false));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn run_and_validate_refuse_bad_scenarios_with_file_line_and_key() {
    let dir = scratch("bad");
    let text =
        include_str!("../data/small.toml").replace("seed = 20260217", "seed = 20260217\nsed = 1");
    let file = dir.join("typo.toml");
    std::fs::write(&file, text).expect("write");
    for command in ["validate", "run"] {
        let out = sim(&[command, file.to_str().expect("utf-8")], None);
        assert_eq!(out.status.code(), Some(2), "{command}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("typo.toml:12:1: key `meta.sed`: unknown field `sed`"),
            "{command}: {stderr}"
        );
    }
    let out = sim(&["validate", dir.join("missing.toml").to_str().expect("utf-8")], None);
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_closed_stdout_does_not_make_a_run_panic() {
    // `sim run ... | head -1`: the reader goes away before the summary lines are printed.
    let dir = crate::support::scratch("closed-stdout");
    let small = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/small.toml");
    let out = dir.join("r");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["run", small, "--quiet", "--out", out.to_str().expect("utf-8")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("sim runs");
    drop(child.stdout.take());
    let o = child.wait_with_output().expect("sim finishes");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(matches!(o.status.code(), Some(0 | 1)), "{stderr}");
    assert!(out.join("summary.json").is_file(), "the report is written whole all the same");
    let _ = std::fs::remove_dir_all(&dir);
}
