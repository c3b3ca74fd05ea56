//! Goal: a report is a pure function of (scenario, seed, commit), byte for byte, and its plots
//! are real images. Method: run `tests/data/small.toml` with seed 1, render every file of the
//! report from the one list `sim run` writes (`report::files`) with fixed process facts (wall
//! time, commit), and compare each text file with `tests/data/golden/`; `BLESS=1 cargo test
//! golden` rewrites them after a deliberate change. The interval log is checked for its header;
//! plots are decoded (PNG) or checked for their root element and seed (SVG).

use bakong_sim::report::{self, RunMeta};
use bakong_sim::scenario;
use bakong_sim::sim::world::World;

const SMALL: &str = include_str!("../data/small.toml");

fn golden_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden")
}

/// Compares one text file with its golden copy, or rewrites the copy when blessing.
fn check_golden(name: &str, text: &str, bless: bool) {
    let path = golden_dir().join(name);
    if bless {
        std::fs::create_dir_all(golden_dir()).expect("golden dir");
        std::fs::write(&path, text).expect("bless");
        return;
    }
    let golden = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with BLESS=1 to create)", path.display()));
    if golden != text {
        let line = golden.lines().zip(text.lines()).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "{name} differs from the golden file at line {}:\n  golden: {:?}\n  now:    {:?}",
            line + 1,
            golden.lines().nth(line),
            text.lines().nth(line)
        );
    }
}

#[test]
fn small_report_matches_the_golden_files_and_its_plots_decode() {
    let s = scenario::parse(SMALL).expect("valid");
    let record = World::new(&s, 1).expect("fits").run(&mut |_| {}).expect("no breach");
    let meta = RunMeta {
        scenario_path: "tests/data/small.toml".into(),
        scenario_hash: "sha256:golden".into(),
        overrides: Vec::new(),
        commit: "golden".into(),
        wall_seconds: 1.0,
        peak_rss_bytes: None,
    };
    let files = report::files(&record, &meta).expect("plots draw");
    let bless = std::env::var("BLESS").is_ok_and(|v| v == "1");
    let mut plots = Vec::new();
    for file in &files {
        if let Some(plot) = file.path.strip_prefix("plots/") {
            plots.push((plot.to_string(), &file.bytes));
        } else if file.path == "histograms.hlog" {
            assert!(file.bytes.starts_with(b"#bakong-sim small seed 1"));
            assert!(file.bytes.len() > 10_000, "the interval log holds every histogram");
        } else {
            let text = std::str::from_utf8(&file.bytes).expect("text files are UTF-8");
            check_golden(&file.path, text, bless);
        }
    }
    let names: Vec<&str> = plots.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "latency-inward.png",
            "latency-inward.svg",
            "latency-outward.png",
            "latency-outward.svg",
            "latency-remittance.png",
            "latency-remittance.svg",
            "latency-domestic.png",
            "latency-domestic.svg",
            "throughput.png",
            "throughput.svg",
            "latency-spectrum.png",
            "latency-spectrum.svg",
            "nodes.png",
            "nodes.svg",
            "outcomes.png",
            "outcomes.svg",
            "liquidity.png",
            "liquidity.svg",
        ]
    );
    for (name, bytes) in plots {
        if name.ends_with(".png") {
            let image = image::load_from_memory_with_format(bytes, image::ImageFormat::Png)
                .unwrap_or_else(|e| panic!("{name} does not decode: {e}"));
            assert_eq!((image.width(), image.height()), (1200, 700), "{name}");
            assert!(bytes.len() > 20_000, "{name} is {} bytes: nothing drawn?", bytes.len());
        } else {
            let svg = std::str::from_utf8(bytes).expect("SVG is text");
            assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{name}");
            assert!(svg.contains("seed 1)"), "{name} names the seed");
        }
    }
}
