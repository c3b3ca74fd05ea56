//! Goal: `--set KEY=VALUE` changes a run exactly as editing the file would, and a bad key or
//! value is refused like one in the file, naming the argument. Method: one `check` per bad
//! argument through the binary; a library run with an override against the same run of the
//! hand-edited file, byte for byte; `load.multiplier` scaling the traffic.

use bakong_sim::report;
use bakong_sim::scenario::overrides::{Override, parse_file_with};
use bakong_sim::scenario::{self, ScenarioFile};
use bakong_sim::sim::world::World;

use crate::support::{scratch, sim};

const TINY_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tiny.toml");
const TINY: &str = include_str!("../data/tiny.toml");

/// `sim validate tiny.toml --set ARG...` must exit 2 with `message` on stderr.
fn check(set: &[&str], message: &str) {
    assert!(!message.is_empty(), "an empty expected text matches anything");
    let mut args = vec!["validate", TINY_PATH];
    for s in set {
        args.extend(["--set", s]);
    }
    let o = sim(&args, None);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{set:?}: {stderr}");
    assert!(stderr.contains(message), "{set:?}: {stderr}");
}

#[test]
fn bad_overrides_name_their_argument() {
    check(
        &["nodes.bakong_switch.servers"],
        "--set nodes.bakong_switch.servers: expected KEY=VALUE",
    );
    check(&["nodes..servers=1"], "KEY is a dotted path");
    check(
        &["nodes.bakong_switch.servers=abc"],
        "--set nodes.bakong_switch.servers=abc: key `nodes.bakong_switch.servers`: invalid type: \
         string \"abc\", expected u32",
    );
    check(&["nodes.bakong_switch.serverz=4"], "unknown field `serverz`, expected one of");
    check(
        &["load.multiplier=0"],
        "--set load.multiplier=0: key `load.multiplier`: 0 must be above 0",
    );
    check(
        &["flows.domestic.daily_payments=5e6", "load.multiplier=500"],
        "--set load.multiplier=500: key `load.multiplier`: makes domestic 2500000000 payments on \
         its busiest day, above 1000000000",
    );
    check(&["flows.inward.hourly_shares_pct[30]=1"], "no item [30]: it has 24");
    check(&["meta.name.first=x"], "`first` is inside a value that is not a table");
    check(
        &["load.multiplier=2", "nodes.upi.service_ms=[25, 12]"],
        "--set nodes.upi.service_ms=[25, 12]: key `nodes.upi.service_ms`: p99 12 ms is below",
    );
    // The problem is the file's, not the override's: it keeps its place in the file.
    let dir = scratch("overrides-file");
    let broken = dir.join("broken.toml");
    let text = TINY.replacen("servers = 256", "servers = 0", 1);
    std::fs::write(&broken, &text).expect("write");
    let o = sim(&["validate", broken.to_str().expect("utf-8"), "--set", "load.multiplier=2"], None);
    let stderr = String::from_utf8_lossy(&o.stderr);
    let line = text[..text.find("servers = 0").expect("edited")].matches('\n').count() + 1;
    assert!(
        stderr.contains(&format!("broken.toml:{line}:")) && stderr.contains("nodes.upi.servers"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn network(file: ScenarioFile) -> Box<scenario::Scenario> {
    match file {
        ScenarioFile::Network(s) => s,
        ScenarioFile::Mmc(_) => panic!("a network scenario"),
    }
}

fn csvs(s: &scenario::Scenario, seed: u64) -> Vec<(String, Vec<u8>)> {
    let record = World::new(s, seed).expect("fits").run(&mut |_| {}).expect("no breach");
    let meta = report::RunMeta {
        scenario_path: "tiny.toml".into(),
        scenario_hash: "fixed".into(),
        overrides: Vec::new(),
        commit: "fixed".into(),
        wall_seconds: 1.0,
        peak_rss_bytes: None,
    };
    let files = report::files(&record, &meta).expect("plots draw");
    files
        .into_iter()
        .filter(|f| !f.path.starts_with("summary."))
        .map(|f| (f.path, f.bytes))
        .collect()
}

#[test]
fn an_override_is_the_same_run_as_the_edited_file() {
    let set = [
        "nodes.bakong_switch.servers=9",
        "flows.domestic.hourly_shares_pct[20]=3.8",
        "flows.domestic.hourly_shares_pct[21]=5.2",
    ];
    let overrides: Vec<Override> =
        set.iter().map(|a| Override::parse(a).expect("parses")).collect();
    let overridden = network(parse_file_with(TINY, &overrides).expect("valid"));
    let shares = "7.2, 6.4, 5.2, 3.8, 2.6, 1.6]";
    assert!(TINY.contains(shares), "tiny.toml's domestic shares changed; update this test");
    let edited = TINY
        .replacen("bakong_switch  = { servers = 128,", "bakong_switch  = { servers = 9,", 1)
        .replacen(shares, "7.2, 6.4, 3.8, 5.2, 2.6, 1.6]", 1);
    let edited = network(scenario::parse_file(&edited).expect("valid"));
    for ((name, a), (_, b)) in csvs(&overridden, 4).into_iter().zip(csvs(&edited, 4)) {
        assert_eq!(a, b, "{name}: the override and the edit differ");
    }
}

#[test]
fn the_load_multiplier_scales_every_flow_and_the_summary_lists_the_overrides() {
    let dir = scratch("overrides-load");
    let run = |out: &str, set: &[&str]| {
        let mut args = vec!["run", TINY_PATH, "--quiet", "--seed", "3", "--out", out];
        for s in set {
            args.extend(["--set", s]);
        }
        let o = sim(&args, None);
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&o.stderr));
        let json = std::fs::read_to_string(format!("{out}/summary.json")).expect("summary");
        serde_json::from_str::<serde_json::Value>(&json).expect("JSON")
    };
    let base = run(dir.join("base").to_str().expect("utf-8"), &[]);
    let double = run(dir.join("double").to_str().expect("utf-8"), &["load.multiplier=2"]);
    assert_eq!(base["overrides"], serde_json::json!([]));
    assert_eq!(double["overrides"], serde_json::json!(["load.multiplier=2"]));
    for flow in ["inward", "outward", "remittance", "domestic"] {
        let (a, b) =
            (&base["flows"][flow]["payments_count"], &double["flows"][flow]["payments_count"]);
        // Poisson counts: twice the rate, within four standard deviations of the difference.
        let (a, b) = (a.as_f64().expect("count"), b.as_f64().expect("count"));
        assert!(a > 10.0, "{flow}: too few payments to tell ({a})");
        assert!((b - 2.0 * a).abs() <= 4.0 * (6.0 * a).sqrt(), "{flow}: {a} → {b}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
