//! Goal: a report is a pure function of (scenario, seed, commit), byte for byte, and its plots
//! are real images. Method: run `tests/data/small.toml` with seed 1, render every file of the
//! report from the one list `sim run` writes (`report::files`) with fixed process facts (wall
//! time, commit), and compare each text file with `tests/data/golden/`; `BLESS=1 cargo test
//! golden` rewrites them after a deliberate change. The interval log is checked for its header;
//! plots are decoded and must have something drawn (PNG), or must carry their title, axis and
//! legend texts and enough series (SVG, the table `PLOTS`).

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
        std::fs::create_dir_all(path.parent().expect("in the golden dir")).expect("golden dir");
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
            "latency-hops.png",
            "latency-hops.svg",
            "liquidity.png",
            "liquidity.svg",
        ]
    );
    for (name, bytes) in plots {
        if name.ends_with(".png") {
            let image = image::load_from_memory_with_format(bytes, image::ImageFormat::Png)
                .unwrap_or_else(|e| panic!("{name} does not decode: {e}"));
            // 1200 × 700, but the throughput plot: 170 px for each of its five panels.
            let height = if name == "throughput.png" { 900 } else { 700 };
            assert_eq!((image.width(), image.height()), (1200, height), "{name}");
            // The frame, its text and its grid are greys; only the series are in colour.
            let coloured =
                image.to_rgba8().pixels().filter(|p| p.0[0] != p.0[1] || p.0[1] != p.0[2]).count();
            assert!(coloured > 2_000, "{name}: {coloured} coloured pixels: nothing drawn?");
        } else {
            check_svg(&name, std::str::from_utf8(bytes).expect("SVG is text"));
        }
    }
}

/// What each plot of the small report must show: its title, axis and legend texts, and at
/// least so many polylines (series, segments, SLO lines) beyond the frame.
const PLOTS: &[(&str, &[&str], usize)] = &[
    (
        "latency-inward.svg",
        &[
            "inward: end-to-end latency",
            "latency, ms (log scale)",
            "p50",
            "p99 (intervals ≥ 100)",
            "SLO: inward p99 under 5 s",
            // The log axis is labelled at 1, 2 and 5 of each decade.
            "1,000",
            "2,000",
            "5,000",
            // The small scenario's link outage and degraded window are shaded.
            "link outage",
            "degraded window",
        ],
        20,
    ),
    ("latency-outward.svg", &["outward: end-to-end latency", "p50"], 5),
    ("latency-remittance.svg", &["remittance: end-to-end latency", "p50"], 5),
    (
        "latency-domestic.svg",
        &["domestic: end-to-end latency", "p99 (intervals ≥ 100)", "SLO: domestic p99 under 3 s"],
        20,
    ),
    (
        "throughput.svg",
        &[
            "throughput per second",
            "offered",
            "approved",
            "declined",
            "reversed or manual",
            "all flows (payments",
            "inward (payments",
            "domestic (payments",
            "link outage",
        ],
        40,
    ),
    (
        "latency-spectrum.svg",
        &["latency by percentile", "percentile", "inward", "outward", "remittance", "domestic"],
        4,
    ),
    (
        "nodes.svg",
        &["busiest nodes", "utilisation, % of servers busy", "100 % busy", "bakong_switch"],
        7,
    ),
    (
        "outcomes.svg",
        &["outcomes other than approval", "reversed", "insufficient_balance", "domestic"],
        0,
    ),
    (
        "latency-hops.svg",
        &[
            "where the time goes",
            "kh_bank",
            "bakong_switch",
            "upi",
            "links, mobile network",
            "inward",
            "ms",
        ],
        0,
    ),
    ("liquidity.svg", &["headroom under each bank", "headroom, % of the cap"], 5),
];

/// One SVG plot: a whole document naming the seed, with its texts and drawn series.
fn check_svg(name: &str, svg: &str) {
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{name}");
    let texts: Vec<&str> = svg
        .split("<text")
        .skip(1)
        .filter_map(|t| Some(t.split_once('>')?.1.split_once("</text>")?.0.trim()))
        .collect();
    assert!(texts.first().is_some_and(|t| t.ends_with("(seed 1)")), "{name}: title {texts:?}");
    let (_, wanted, polylines_min) =
        PLOTS.iter().find(|(n, ..)| *n == name).unwrap_or_else(|| panic!("{name} not in PLOTS"));
    for want in *wanted {
        assert!(texts.iter().any(|t| t.contains(want)), "{name} lacks {want:?}: {texts:?}");
    }
    let polylines = svg.matches("<polyline").count();
    assert!(polylines >= *polylines_min, "{name}: {polylines} polylines");
    if name == "outcomes.svg" || name == "latency-hops.svg" {
        // Bars: the frame's rectangles and one per flow and class with any share.
        assert!(svg.matches("<rect").count() > 20, "{name}: no bars");
    }
}
