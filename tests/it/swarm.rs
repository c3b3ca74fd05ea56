//! Goal: a swarm campaign runs every seed through its own storm and heals it clean, reaches
//! every state that matters, finds every planted bug within a few seeds, and tells how to
//! replay a failing seed. Method: the fixed batch (`tests/data/swarm.toml`, seeds 1 to 200)
//! through the library on two threads; each canary in turn over the first seeds; the command
//! line on a canary, then its replay; one thread against two on a few seeds.

use bakong_sim::capacity::swarm::{self, CANARIES, SwarmSpec};
use bakong_sim::record::MARKS;
use bakong_sim::record::swarm::{Campaign, Verdict};

use crate::support::{scratch, sim};

const SWARM: &str = include_str!("../data/swarm.toml");

fn campaign(from: u64, to: u64, jobs: usize, canary: Option<&str>) -> Campaign {
    let spec = SwarmSpec {
        text: SWARM,
        base: &[],
        seeds: (from, to),
        shard: None,
        jobs,
        canary: canary.map(|c| swarm::canary(c).expect("a known canary")),
    };
    swarm::campaign(&spec, &|_| {}).expect("the campaign runs").0
}

#[test]
fn the_fixed_batch_heals_clean_and_reaches_every_mark() {
    let c = campaign(1, 200, 2, None);
    let failed: Vec<String> =
        c.failed().map(|s| format!("seed {}: {:?}", s.seed, s.verdict)).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    for m in MARKS {
        let seeds = c.seeds.iter().filter(|s| (m.count)(&s.marks) > 0).count();
        assert!(seeds > 0, "no seed reached {} ({})", m.name, m.means);
    }
    // Every seed drew a different storm.
    let mut mixes: Vec<&Vec<String>> = c.seeds.iter().map(|s| &s.overrides).collect();
    mixes.sort();
    mixes.dedup();
    assert_eq!(mixes.len(), 200, "fault mixes repeat");
}

/// How many seeds, from 1, until the canary is found; `None` within `seeds_max`.
fn seeds_to_find(canary: &str, seeds_max: u64) -> Option<u64> {
    // Ten seeds at a time, stopping at the first batch that finds it.
    (1..=seeds_max).step_by(10).find_map(|from| {
        let c = campaign(from, (from + 9).min(seeds_max), 2, Some(canary));
        c.seeds.iter().find(|s| s.verdict != Verdict::Clean).map(|s| s.seed)
    })
}

#[test]
fn every_canary_is_found_within_forty_seeds() {
    for canary in CANARIES {
        let found = seeds_to_find(canary.name, 40);
        assert!(found.is_some(), "{} ({}) not found in 40 seeds", canary.name, canary.means);
    }
}

#[test]
fn a_failing_seed_prints_its_replay_and_the_replay_fails_alike() {
    let dir = scratch("swarm");
    let out = dir.join("campaign");
    let o = sim(
        &[
            "swarm",
            "tests/data/swarm.toml",
            "--seeds",
            "3..4",
            "--canary",
            "fee_to_wrong_account",
            "--out",
            out.to_str().expect("utf-8"),
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    let replay = "sim swarm tests/data/swarm.toml --seeds 3..3 --canary fee_to_wrong_account";
    assert!(stdout.contains(replay), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("swarm.json")).expect("swarm.json"))
            .expect("JSON");
    assert_eq!(json["summary"]["failed"], serde_json::json!([3, 4]));
    assert_eq!(json["seeds"][0]["verdict"], "breach");
    let detail = json["seeds"][0]["detail"].as_str().expect("a detail").to_string();
    assert!(detail.contains("FeeIncome"), "{detail}");
    let mix = std::fs::read_to_string(out.join("seed-3/fault-mix.txt")).expect("the mix is kept");
    assert!(mix.contains("--set 'windows=["), "{mix}");
    // The replay: the one seed, the same verdict.
    let again = dir.join("replay");
    let o = sim(
        &[
            "swarm",
            "tests/data/swarm.toml",
            "--seeds",
            "3..3",
            "--canary",
            "fee_to_wrong_account",
            "--out",
            again.to_str().expect("utf-8"),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(again.join("swarm.json")).expect("json"))
            .expect("JSON");
    assert_eq!(json["seeds"][0]["detail"].as_str(), Some(detail.as_str()));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_campaign_is_the_same_on_one_thread_or_two() {
    assert_eq!(campaign(1, 6, 1, None), campaign(1, 6, 2, None));
}

#[test]
fn bad_seed_ranges_and_canaries_are_usage_errors() {
    for (args, says) in [
        (&["--seeds", "5..2"][..], "--seeds 5..2: expected A..B"),
        (&["--seeds", "x"][..], "expected A..B"),
        (&["--seeds", "1..2", "--canary", "nope"][..], "--canary nope: known: double_credit"),
        (&["--seeds", "1..2", "--shard", "2/2"][..], "--shard 2/2"),
    ] {
        let mut all = vec!["swarm", "tests/data/swarm.toml"];
        all.extend(args);
        let o = sim(&all, None);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn shards_merge_into_the_whole_campaign() {
    let dir = scratch("swarm-shards");
    let path = |name: &str| dir.join(name).to_str().expect("utf-8").to_string();
    let run = |extra: &[&str], out: &str| {
        let mut args = vec!["swarm", "tests/data/swarm.toml", "--seeds", "1..5", "--quiet"];
        args.extend(extra);
        args.extend(["--canary", "double_credit", "--out", out]);
        sim(&args, None)
    };
    run(&[], &path("whole"));
    let first = run(&["--shard", "0/2"], &path("shard-0"));
    run(&["--shard", "1/2"], &path("shard-1"));
    let o = sim(&["merge", &path("shard-1"), &path("shard-0"), "--out", &path("merged")], None);
    assert_eq!(o.status.code(), Some(1), "the canary fails seeds: {o:?}");
    let json = |name: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(dir.join(name).join("swarm.json")).expect("swarm.json");
        serde_json::from_str(&text).expect("JSON")
    };
    let (whole, merged) = (json("whole"), json("merged"));
    assert_eq!(whole["seeds"], merged["seeds"]);
    assert_eq!(whole["summary"]["failed"], merged["summary"]["failed"]);
    assert!(!merged["summary"]["failed"].as_array().expect("a list").is_empty());
    for seed in merged["summary"]["failed"].as_array().expect("a list") {
        let mix = dir.join("merged").join(format!("seed-{seed}")).join("fault-mix.txt");
        assert!(mix.is_file(), "{} copied from its shard", mix.display());
    }
    // A shard already whole is skipped with --skip-existing, and its exit code is still the
    // campaign's; other seeds are not the same campaign and run.
    let before = std::fs::metadata(dir.join("shard-0/swarm.json")).and_then(|m| m.modified());
    let o = run(&["--shard", "0/2", "--skip-existing"], &path("shard-0"));
    assert_eq!(o.status.code(), first.status.code(), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("already whole there"), "{o:?}");
    let after = std::fs::metadata(dir.join("shard-0/swarm.json")).and_then(|m| m.modified());
    assert_eq!(before.expect("mtime"), after.expect("mtime"), "a whole shard was rewritten");
    let o = sim(
        &["swarm", "tests/data/swarm.toml", "--seeds", "1..1", "--quiet", "--skip-existing"]
            .into_iter()
            .chain(["--shard", "0/2", "--out", &path("shard-0")])
            .collect::<Vec<_>>(),
        None,
    );
    assert!(!String::from_utf8_lossy(&o.stdout).contains("already whole there"), "{o:?}");
    // A shard missing, or given twice, is refused.
    let o = sim(&["merge", &path("shard-0"), "--out", &path("half")], None);
    assert!(String::from_utf8_lossy(&o.stderr).contains("shard 1/2 is missing"), "{o:?}");
    let o = sim(&["merge", &path("shard-0"), &path("shard-0"), "--out", &path("twice")], None);
    assert!(String::from_utf8_lossy(&o.stderr).contains("given twice"), "{o:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
