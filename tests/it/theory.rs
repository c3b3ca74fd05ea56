//! Goal: the engine's queues are the textbook's. Method: `tests/data/textbook.toml` (Poisson
//! arrivals at 20 a second into a network where only the nodes under test take time) with one
//! node an M/D/1 or an M/G/1 (log-normal service), or three exponential nodes in tandem (a
//! Jackson network: each an M/M/1, by Burke's theorem); eight replications with independent
//! seeds; the 95 % Student-t interval of each node's mean time in system (queue and service)
//! must contain the closed form (Pollaczek–Khinchine for M/G/1 and M/D/1, 1/(μ − λ) for
//! M/M/1).

use bakong_sim::capacity::replication_seeds;
use bakong_sim::record::study::Interval;
use bakong_sim::scenario;
use bakong_sim::sim::world::{RunRecord, World};

const TEXTBOOK: &str = include_str!("../data/textbook.toml");
/// Arrivals per second.
const LAMBDA: f64 = 20.0;
const REPLICATIONS: u32 = 8;

fn run(text: &str, seed: u64) -> RunRecord {
    let s = scenario::parse(text).unwrap_or_else(|e| panic!("{e}"));
    World::new(&s, seed).expect("fits").run(&mut |_| {}).expect("no breach")
}

/// A node's mean time in system over a run, ms (only requests take a server here).
fn sojourn_ms(r: &RunRecord, node: &str) -> f64 {
    let n = r.nodes.iter().find(|n| n.name == node).unwrap_or_else(|| panic!("no {node}"));
    let o = &n.occupancy;
    assert!(o.served_count > 50_000, "{node} served {}", o.served_count);
    o.sojourn_ns as f64 / o.served_count as f64 / 1e6
}

/// Pollaczek–Khinchine: the M/G/1 mean time in system, ms, from the service's first two
/// moments (ms, ms²).
fn pk_ms(mean: f64, second_moment: f64) -> f64 {
    let rho = LAMBDA * mean / 1000.0;
    assert!(rho < 1.0);
    mean + LAMBDA / 1000.0 * second_moment / (2.0 * (1.0 - rho))
}

/// Runs the textbook network with `nodes` replacing its node lines, and checks each named
/// node's interval against its expected mean time in system.
fn check(name: &str, nodes: &[(&str, &str)], expected_ms: &[(&str, f64)]) {
    let mut text = TEXTBOOK.to_string();
    for (node, spec) in nodes {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{node} ")))
            .unwrap_or_else(|| panic!("{name}: no line for {node}"))
            .to_string();
        text = text.replace(&line, &format!("{node} = {spec}"));
    }
    let runs: Vec<RunRecord> = replication_seeds(20_260_304, REPLICATIONS)
        .into_iter()
        .map(|seed| run(&text, seed))
        .collect();
    for &(node, expected) in expected_ms {
        let values: Vec<f64> = runs.iter().map(|r| sojourn_ms(r, node)).collect();
        let i = Interval::of(&values);
        eprintln!(
            "{name}: {node} {:.3} ms [{:.3}, {:.3}], theory {expected:.3} ms",
            i.mean, i.lo, i.hi
        );
        assert!(
            i.contains(expected),
            "{name}: {node} mean time in system {:.3} ms, 95 % interval [{:.3}, {:.3}], theory \
             {expected:.3} ms",
            i.mean,
            i.lo,
            i.hi
        );
        assert!(
            i.half_width() < expected * 0.05,
            "{name}: {node}: the interval is too wide to mean much"
        );
    }
}

#[test]
fn an_md1_node_matches_pollaczek_khinchine() {
    // Constant 35 ms: ρ = 0.7, W = D + ρD / (2(1 − ρ)).
    let d = 35.0;
    check(
        "M/D/1",
        &[(
            "bakong_switch",
            "{ servers = 1, queue_max = 1_000_000, service = { dist = \"constant\", ms = 35 }, other_service = { dist = \"constant\", ms = 0 } }",
        )],
        &[("bakong_switch", pk_ms(d, d * d))],
    );
}

#[test]
fn an_mg1_node_with_log_normal_service_matches_pollaczek_khinchine() {
    // Median 25 ms, p99 100 ms: σ = ln 4 / 2.326; E[S] = m e^{σ²/2}, E[S²] = m² e^{2σ²}.
    let (m, sigma) = (25.0_f64, (100.0_f64 / 25.0).ln() / 2.326_347_874);
    check(
        "M/G/1",
        &[(
            "bakong_switch",
            "{ servers = 1, queue_max = 1_000_000, service_ms = [25, 100], other_service = { dist = \"constant\", ms = 0 } }",
        )],
        &[(
            "bakong_switch",
            pk_ms(m * (sigma * sigma / 2.0).exp(), m * m * (2.0 * sigma * sigma).exp()),
        )],
    );
}

#[test]
fn three_exponential_nodes_in_tandem_are_a_jackson_network() {
    let node = |mean: f64| {
        format!(
            "{{ servers = 1, queue_max = 1_000_000, service = {{ dist = \"exponential\", mean_ms = {mean} }}, other_service = {{ dist = \"constant\", ms = 0 }} }}"
        )
    };
    let mm1 = |mean_ms: f64| 1000.0 / (1000.0 / mean_ms - LAMBDA);
    let (a, b, c) = (node(20.0), node(30.0), node(25.0));
    check(
        "tandem",
        &[("tandem_a", &a), ("tandem_b", &b), ("tandem_c", &c)],
        &[("tandem_a", mm1(20.0)), ("tandem_b", mm1(30.0)), ("tandem_c", mm1(25.0))],
    );
}
