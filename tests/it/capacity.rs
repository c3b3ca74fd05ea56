//! Goal: replications are independent, their intervals mean what they say, and a study's
//! results do not depend on how many threads ran it. Method: interval coverage on an M/M/c
//! node whose mean wait is known (Erlang C); the small scenario replicated on one and on two
//! threads, compared whole; the seeds' derivation.

use bakong_sim::capacity::{self, replication_seeds};
use bakong_sim::record::study::Interval;
use bakong_sim::scenario;
use bakong_sim::sim::mmc::{MmcConfig, erlang_c, run_mmc};

const SMALL: &str = include_str!("../data/small.toml");

#[test]
fn intervals_from_independent_replications_cover_the_known_mean() {
    let (servers, lambda, mu) = (2, 1.0, 1.0);
    let (_, wq, _) = erlang_c(servers, lambda, mu).expect("stable");
    let mut covered = 0;
    for k in 0..100u64 {
        let waits: Vec<f64> = replication_seeds(7_000 + k, 5)
            .into_iter()
            .map(|seed| {
                let config = MmcConfig {
                    servers,
                    arrival_rate_per_s: lambda,
                    service_rate_per_s: mu,
                    customers: 20_000,
                    seed,
                    waiting_max: 1 << 20,
                };
                run_mmc(config).expect("runs").mean_wait_s()
            })
            .collect();
        if Interval::of(&waits).contains(wq) {
            covered += 1;
        }
    }
    eprintln!("{covered} of 100 intervals hold Wq = {wq}");
    assert!((90..=99).contains(&covered), "{covered} of 100 intervals hold Wq = {wq}");
}

#[test]
fn seeds_are_independent_streams_not_consecutive_numbers() {
    let seeds = replication_seeds(42, 6);
    assert_eq!(seeds[0], 42, "one replication is the plain run");
    assert!(seeds.windows(2).all(|w| w[1] != w[0].wrapping_add(1)));
    let mut sorted = seeds.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 6, "distinct");
    assert_eq!(replication_seeds(42, 3), seeds[..3], "a prefix of a longer study");
}

#[test]
fn one_thread_or_two_give_the_same_study() {
    let s = scenario::parse(SMALL).expect("valid");
    let one = capacity::replicate(&s, 5, 4, 1, &|_| {}).expect("runs");
    let two = capacity::replicate(&s, 5, 4, 2, &|_| {}).expect("runs");
    assert_eq!(one, two);
    assert_eq!(one.replications.len(), 4);
    // Different seeds, different runs.
    let events: Vec<u64> = one.replications.iter().map(|h| h.events_count).collect();
    assert!(events.windows(2).all(|w| w[0] != w[1]), "{events:?}");
    let p99 = one.flow_interval(bakong_sim::payments::party::Flow::Domestic, |f| f.latency_ms_p99);
    assert!(p99.lo <= p99.mean && p99.mean <= p99.hi && p99.hi > p99.lo, "{p99:?}");
}

#[test]
fn a_study_out_of_limits_is_refused_before_it_runs() {
    let s = scenario::parse(SMALL).expect("valid");
    let err = |n, jobs| capacity::check(&s, n, jobs).expect_err("refused").to_string();
    assert!(err(0, 1).contains("--replications must be 1 to 10000"));
    assert!(err(2, 0).contains("--jobs must be 1 to 256"));
    let tight = scenario::parse(&SMALL.replacen("[limits]", "[limits]\nmemory_mb_max = 64", 1))
        .expect("valid");
    let e = capacity::check(&tight, 8, 8).expect_err("8 at once do not fit").to_string();
    assert!(e.contains("use fewer --jobs (at most 1)"), "{e}");
    capacity::check(&tight, 8, 1).expect("one at a time fits");
}

mod sweeps {
    use bakong_sim::capacity::sweep::{
        KneeRange, SweepSpec, find_knee, merge, parse_vary, read, sweep,
    };
    use bakong_sim::record::study::KeyValue;
    use bakong_sim::report::{self, RunMeta};

    use super::SMALL;

    fn meta() -> RunMeta {
        RunMeta {
            scenario_path: "small.toml".into(),
            scenario_hash: "fixed".into(),
            overrides: Vec::new(),
            commit: "fixed".into(),
            wall_seconds: 0.0,
            peak_rss_bytes: None,
        }
    }

    fn spec(jobs: usize) -> SweepSpec<'static> {
        SweepSpec { text: SMALL, base: &[], seed: 11, replications: 2, jobs }
    }

    #[test]
    fn shards_merge_into_the_whole_sweep_byte_for_byte_whatever_the_threads() {
        let vary = [
            parse_vary("load.multiplier=0.5,1.5").expect("vary"),
            parse_vary("nodes.bakong_switch.servers=4,64").expect("vary"),
        ];
        let whole = sweep(&spec(2), &vary, None, &|_, _| {}).expect("runs");
        assert_eq!(whole.points.len(), 4);
        assert_eq!(
            whole.points[1].values.values[1],
            KeyValue { key: "nodes.bakong_switch.servers".into(), value: "64".into() }
        );
        let files = report::sweep::files(&whole, &meta()).expect("plots draw");
        let shards: Vec<_> = (0..3)
            .map(|i| {
                let part = sweep(&spec(1), &vary, Some((i, 3)), &|_, _| {}).expect("runs");
                let f = report::sweep::files(&part, &meta()).expect("plots draw");
                let text = |name: &str| {
                    let file = f.iter().find(|x| x.path == name).expect("file");
                    String::from_utf8(file.bytes.clone()).expect("UTF-8")
                };
                read(&text("sweep.json"), &text("headlines.csv")).expect("reads back")
            })
            .collect();
        let merged = merge(shards).expect("merges");
        assert_eq!(merged, whole);
        assert_eq!(report::sweep::files(&merged, &meta()).expect("plots draw"), files);
    }

    #[test]
    fn a_one_key_sweep_draws_its_capacity_curves_and_a_grid_does_not() {
        let one = sweep(
            &spec(2),
            &[parse_vary("load.multiplier=0.5,1,2").expect("vary")],
            None,
            &|_, _| {},
        )
        .expect("runs");
        let files = report::sweep::files(&one, &meta()).expect("plots draw");
        for name in ["capacity-latency", "capacity-approval", "capacity-nodes"] {
            let png = files.iter().find(|f| f.path == format!("plots/{name}.png")).expect(name);
            let image = image::load_from_memory_with_format(&png.bytes, image::ImageFormat::Png)
                .unwrap_or_else(|e| panic!("{name} does not decode: {e}"));
            assert_eq!((image.width(), image.height()), (1200, 700));
            let svg = files.iter().find(|f| f.path == format!("plots/{name}.svg")).expect(name);
            let svg = String::from_utf8_lossy(&svg.bytes);
            assert!(svg.starts_with("<svg") && svg.contains("seed 11"), "{name}.svg");
        }
        let md = files.iter().find(|f| f.path == "capacity.md").expect("capacity.md");
        assert!(String::from_utf8_lossy(&md.bytes).contains("plots/capacity-latency.png"));
        let grid = [
            parse_vary("load.multiplier=0.5,1").expect("vary"),
            parse_vary("nodes.bakong_switch.servers=4,64").expect("vary"),
        ];
        let two = sweep(&spec(2), &grid, None, &|_, _| {}).expect("runs");
        let files = report::sweep::files(&two, &meta()).expect("renders");
        assert!(files.iter().all(|f| !f.path.starts_with("plots/")), "a grid is a table");
    }

    #[test]
    fn a_bad_point_is_refused_before_anything_runs_and_names_the_point() {
        let vary = [parse_vary("nodes.bakong_switch.servers=8,0").expect("vary")];
        let e = sweep(&spec(1), &vary, None, &|_, _| panic!("nothing may run")).expect_err("bad");
        let e = e.to_string();
        assert!(
            e.contains("point nodes.bakong_switch.servers=0") && e.contains("must be 1 to"),
            "{e}"
        );
        assert!(parse_vary("load.multiplier=1,,2").is_err());
    }

    /// The tiny scenario judged by its domestic p99 alone, with a one-server switch, so that
    /// more load eventually breaks the SLO.
    fn knee_scenario() -> String {
        let tiny = include_str!("../data/tiny.toml");
        let slos = &tiny[tiny.find("[[slo]]").expect("SLOs")..];
        let only = "[[slo]]\nname = \"domestic p99 under 3 s\"\nmetric = \"latency_ms_p99\"\n\
                    flow = \"domestic\"\nmax = 3000\n";
        tiny.replacen(slos, only, 1).replacen(
            "bakong_switch  = { servers = 128,",
            "bakong_switch  = { servers = 1,",
            1,
        )
    }

    #[test]
    fn the_knee_search_brackets_the_load_where_the_slo_starts_to_fail() {
        let text = knee_scenario();
        let s = SweepSpec { text: &text, base: &[], seed: 11, replications: 2, jobs: 2 };
        let range = KneeRange::parse("1.0..400.0").expect("range");
        assert!(!range.integer);
        assert!(KneeRange::parse("2..64").expect("range").integer);
        let k = find_knee(&s, "load.multiplier", range, 6, &|_, _| {}).expect("runs");
        let knee = k.knee.expect("searched");
        let v = knee.value.expect("the SLO holds at the low end");
        assert!(v > 1.0 && v < 400.0, "the SLO breaks inside the range: {v} ({})", knee.rule);
        let values: Vec<f64> =
            k.points.iter().map(|p| p.values.values[0].value.parse().expect("number")).collect();
        assert!(values.windows(2).all(|w| w[0] < w[1]), "sorted by value: {values:?}");
        // Every evaluated point at or below the knee held, every one above it failed, and the
        // bracket is one bisection step of the range wide at most.
        for (x, p) in values.iter().zip(&k.points) {
            let pass = p.runs.slo_pass_count() == p.runs.replications.len();
            assert_eq!(pass, *x <= v, "{x}: passed {pass}, knee {v}");
        }
        let above = values.iter().copied().find(|&x| x > v).expect("a failing point");
        assert!(above - v <= 399.0 / 2f64.powi(6) + 1e-9, "bracket [{v}, {above}]");
    }

    /// P(T > t) for the sojourn time T of an M/M/c queue: with probability 1 − C no wait and
    /// T ~ Exp(μ); else the wait is Exp(cμ − λ) and T their (hypoexponential) sum.
    fn mmc_sojourn_tail(t: f64, c: u32, lambda: f64, mu: f64) -> f64 {
        let (p_wait, _, _) = bakong_sim::sim::mmc::erlang_c(c, lambda, mu).expect("stable");
        let theta = f64::from(c) * mu - lambda;
        let hypo = (theta * (-mu * t).exp() - mu * (-theta * t).exp()) / (theta - mu);
        (1.0 - p_wait) * (-mu * t).exp() + p_wait * hypo
    }

    fn bisect(mut lo: f64, mut hi: f64, below: impl Fn(f64) -> bool) -> f64 {
        for _ in 0..200 {
            let mid = (lo + hi) / 2.0;
            if below(mid) { lo = mid } else { hi = mid }
        }
        lo
    }

    #[test]
    fn the_knee_of_an_mmc_switch_matches_erlang_c_within_one_bisection_step() {
        // tests/data/mmc-network.toml: 20 payments a second at multiplier 1 through an M/M/4
        // switch (mean service 100 ms), nothing else taking time, SLO p99 at most 1 s.
        let (c, mu, lambda_1, slo_s) = (4, 10.0, 20.0, 1.0);
        let p99 = |lambda: f64| bisect(0.0, 100.0, |t| mmc_sojourn_tail(t, c, lambda, mu) > 0.01);
        assert!((p99(20.0) - 0.4764).abs() < 1e-3, "p99 at ρ = 0.5: {}", p99(20.0));
        let analytic = bisect(1.0, 1.99, |m| p99(m * lambda_1) <= slo_s);
        let text = include_str!("../data/mmc-network.toml");
        let s = SweepSpec { text, base: &[], seed: 20260217, replications: 1, jobs: 2 };
        let (range, steps) = (KneeRange::parse("1.0..1.95").expect("range"), 4);
        let k = find_knee(&s, "load.multiplier", range, steps, &|_, _| {}).expect("runs");
        let found = k.knee.expect("searched").value.expect("holds at the low end");
        let step = (range.hi - range.lo) / 2f64.powi(steps as i32);
        assert!(
            (found - analytic).abs() <= step,
            "knee {found} against Erlang C's {analytic:.4} (one step is {step})"
        );
    }
}

#[test]
fn compare_puts_two_folders_side_by_side_with_significance() {
    use crate::support::{scratch, sim};
    let dir = scratch("compare");
    let tiny = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tiny.toml");
    let path = |name: &str| dir.join(name).to_str().expect("utf-8").to_string();
    for (name, set) in [("a", "load.multiplier=1"), ("b", "load.multiplier=3")] {
        let o = sim(
            &["run", tiny, "--quiet", "--replications", "4", "--set", set, "--out", &path(name)],
            None,
        );
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let o = sim(&["compare", &path("a"), &path("b"), "--json"], None);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let row = |figure: &str| {
        j["figures"].as_array().expect("figures").iter().find(|r| r["figure"] == figure).cloned()
    };
    let payments = row("domestic payments_count").expect("a payments row");
    assert_eq!(payments["significant"], true, "three times the traffic: {payments}");
    assert_eq!(payments["a"]["replications"], 4);
    let md = sim(&["compare", &path("a"), &path("b")], None);
    assert!(String::from_utf8_lossy(&md.stdout).contains("| domestic payments_count |"));
    // Replications draw their intervals; a comparison written to a folder has its page too.
    for name in ["a", "b"] {
        let svg =
            std::fs::read_to_string(dir.join(name).join("plots/intervals.svg")).expect("plot");
        assert!(svg.contains("4 replications") && svg.contains("p99 latency, ms"), "{name}");
    }
    let o = sim(&["compare", &path("a"), &path("b"), "--out", &path("ab")], None);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let page = std::fs::read_to_string(dir.join("ab/report.html")).expect("the page");
    assert!(page.contains("domestic payments_count"), "the page shows the table");
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("ab/compare.json")).expect("JSON"))
            .expect("parses");
    assert_eq!(
        written,
        serde_json::from_slice::<serde_json::Value>(
            &sim(&["compare", &path("a"), &path("b"), "--json"], None).stdout
        )
        .expect("JSON")
    );
    // Every headline figure, not only latency: peak throughput and the busiest nodes too.
    for figure in ["all flows offered_per_s_peak_second", "node bakong_switch utilisation_pct_mean"]
    {
        assert!(row(figure).is_some(), "no {figure} row: {j}");
    }
    // Two sweeps compare point by point, the points they share.
    let sweep = |name: &str, values: &str| {
        let out = path(name);
        let o = sim(
            &["sweep", tiny, "--vary", values, "--replications", "3", "--quiet", "--out", &out],
            None,
        );
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        out
    };
    let (sa, sb) = (sweep("sa", "load.multiplier=1,2"), sweep("sb", "load.multiplier=2,4"));
    let o = sim(&["compare", &sa, &sb, "--json"], None);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let figures = j["figures"].as_array().expect("figures");
    assert!(!figures.is_empty());
    assert!(
        figures
            .iter()
            .all(|r| r["figure"].as_str().is_some_and(|f| f.starts_with("[load.multiplier=2] "))),
        "only the shared point: {j}"
    );
    let same = figures
        .iter()
        .find(|r| r["figure"] == "[load.multiplier=2] domestic payments_count")
        .expect("a payments row");
    assert_eq!(same["a"]["value"], same["b"]["value"], "one point, one seed, one result");
    assert_eq!(same["significant"], false);
    // A sweep against a run is refused, and says why.
    let o = sim(&["compare", &path("a"), &sa], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("a sweep compares with another sweep"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_finished_shard_is_skipped_and_anything_else_is_run() {
    use crate::support::{scratch, sim};
    let dir = scratch("skip-existing");
    let tiny = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tiny.toml");
    let out = dir.join("shard-1").to_str().expect("utf-8").to_string();
    let args = |extra: &[&'static str]| {
        let mut a: Vec<String> =
            ["sweep", tiny, "--vary", "load.multiplier=1,2,3", "--shard", "1/2", "--quiet"]
                .map(String::from)
                .to_vec();
        a.extend(extra.iter().map(|s| s.to_string()));
        a.extend(["--skip-existing".into(), "--out".into(), out.clone()]);
        a
    };
    let run = |extra: &[&'static str]| {
        let a = args(extra);
        let o = sim(&a.iter().map(String::as_str).collect::<Vec<_>>(), None);
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(!run(&[]).contains("skipped"), "nothing there yet");
    let json = std::path::Path::new(&out).join("sweep.json");
    let first = std::fs::read(&json).expect("written");
    assert!(run(&[]).contains("already whole there; skipped"));
    // Another sweep (other --set), or a shard whose file was altered, runs again.
    assert!(!run(&["--set", "flows.domestic.daily_payments=900"]).contains("skipped"));
    assert_ne!(std::fs::read(&json).expect("rewritten"), first);
    assert!(!run(&[]).contains("skipped"), "the previous content was another sweep");
    assert_eq!(std::fs::read(&json).expect("rewritten"), first, "deterministic");
    std::fs::write(std::path::Path::new(&out).join("capacity.md"), "edited").expect("edit");
    assert!(!run(&[]).contains("skipped"), "a shard whose files do not match its manifest");
    assert!(run(&[]).contains("skipped"));
    let _ = std::fs::remove_dir_all(&dir);
}
