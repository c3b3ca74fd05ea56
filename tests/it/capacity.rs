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
