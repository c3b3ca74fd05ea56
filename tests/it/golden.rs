//! Goal: a report is a pure function of (scenario, seed, commit), byte for byte, and its plots
//! are real images. Method: run `tests/data/small.toml` with seed 1, render every text file of
//! the report with fixed process facts (wall time, commit), and compare with
//! `tests/data/golden/`; `BLESS=1 cargo test golden` rewrites them after a deliberate change.
//! Plots are decoded (PNG) or checked for their root element (SVG).

use bakong_sim::report::{self, RunMeta};
use bakong_sim::sim::scenario;
use bakong_sim::sim::world::World;

const SMALL: &str = include_str!("../data/small.toml");

fn golden_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden")
}

#[test]
fn small_report_matches_the_golden_files_and_its_plots_decode() {
    let s = scenario::parse(SMALL).expect("valid");
    let record = World::new(&s, 1).run(&mut |_| {}).expect("no breach");
    let meta = RunMeta {
        scenario_path: "tests/data/small.toml".into(),
        scenario_hash: format!("md5:{}", bakong_sim::payments::qr::md5_hex(SMALL)),
        commit: "golden".into(),
        wall_seconds: 1.0,
        peak_rss_bytes: None,
    };
    let verdicts = report::verdicts(&record, &s.slo);
    let steady = report::steady::steady(&record, s.report.warmup_minutes.map(u64::from));
    let files = [
        ("summary.md", report::summary_md(&record, &meta, &verdicts, &steady)),
        ("summary.json", report::summary_json(&record, &meta, &verdicts, &steady)),
        ("latency.csv", report::latency_csv(&record)),
        ("timeseries.csv", report::timeseries_csv(&record)),
        ("nodes.csv", report::nodes_csv(&record)),
        ("settlement.csv", report::settlement_csv(&record)),
        ("scheme-settlement.csv", report::scheme_settlement_csv(&record)),
        ("reconciliation.csv", report::reconciliation_csv(&record)),
    ];
    let dir = golden_dir();
    let bless = std::env::var_os("BLESS").is_some();
    for (name, text) in &files {
        let path = dir.join(name);
        if bless {
            std::fs::create_dir_all(&dir).expect("golden dir");
            std::fs::write(&path, text).expect("bless");
            continue;
        }
        let golden = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run with BLESS=1 to create)", path.display()));
        if golden != *text {
            let line = golden.lines().zip(text.lines()).position(|(a, b)| a != b).unwrap_or(0);
            panic!(
                "{name} differs from the golden file at line {}:\n  golden: {:?}\n  now:    {:?}",
                line + 1,
                golden.lines().nth(line),
                text.lines().nth(line)
            );
        }
    }
    let hlog = report::histogram_log(&record);
    assert!(hlog.starts_with(b"#bakong-sim small seed 1"));
    assert!(hlog.len() > 10_000, "the interval log holds every histogram");

    let plots = report::plots::plots(&record).expect("plots draw");
    let names: Vec<&str> = plots.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "latency-inward",
            "latency-outward",
            "latency-remittance",
            "latency-domestic",
            "throughput",
            "latency-spectrum",
            "nodes",
            "outcomes"
        ]
    );
    for plot in &plots {
        let image = image::load_from_memory_with_format(&plot.png, image::ImageFormat::Png)
            .unwrap_or_else(|e| panic!("{}.png does not decode: {e}", plot.name));
        assert_eq!((image.width(), image.height()), (1200, 700), "{}", plot.name);
        assert!(
            plot.png.len() > 20_000,
            "{}.png is {} bytes: nothing drawn?",
            plot.name,
            plot.png.len()
        );
        assert!(
            plot.svg.starts_with("<svg") && plot.svg.trim_end().ends_with("</svg>"),
            "{}.svg",
            plot.name
        );
        assert!(plot.svg.contains("seed 1)"), "{}.svg names the seed", plot.name);
    }
}
