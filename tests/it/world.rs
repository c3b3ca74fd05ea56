//! Goal: a run is a pure function of (scenario, seed); the auditor catches each class of broken
//! core; every shipped scenario is valid. Method: run `tests/data/small.toml` (three hours of
//! the CNY Eve evening, with WAN loss and an outage so timeouts, inquiries and reversals
//! happen) through the library, compare report CSVs byte for byte, and run it again with each
//! deliberate fault ([`Sabotage`]) expecting the matching breach.

use bakong_sim::payments::recon::Resolution;
use bakong_sim::record::study::FlowHeadline;
use bakong_sim::report;
use bakong_sim::scenario::{self, Scenario};
use bakong_sim::sim::audit::Breach;
use bakong_sim::sim::world::{Decline, Outcome, RunRecord, Sabotage, Stop, World};

const SMALL: &str = include_str!("../data/small.toml");

fn small() -> Scenario {
    scenario::parse(SMALL).expect("the test scenario is valid")
}

fn run(s: &Scenario, seed: u64, sabotage: Sabotage) -> Result<RunRecord, Breach> {
    World::with_sabotage(s, seed, sabotage).expect("fits its memory limit").run(&mut |_| {})
}

/// Every file of the report but the summaries (which carry wall time), from the one list
/// `sim run` writes.
fn csvs(r: &RunRecord) -> Vec<(String, Vec<u8>)> {
    let meta = report::RunMeta {
        scenario_path: "small.toml".into(),
        scenario_hash: "fixed".into(),
        overrides: Vec::new(),
        commit: "fixed".into(),
        wall_seconds: 1.0,
        peak_rss_bytes: None,
    };
    report::files(r, &meta)
        .expect("plots draw")
        .into_iter()
        .filter(|f| !f.path.starts_with("summary."))
        .map(|f| (f.path, f.bytes))
        .collect()
}

#[test]
fn same_seed_same_bytes_other_seed_differs() {
    let s = small();
    let a = run(&s, 7, Sabotage::default()).expect("no breach");
    let b = run(&s, 7, Sabotage::default()).expect("no breach");
    let c = run(&s, 8, Sabotage::default()).expect("no breach");
    for ((name, x), (_, y)) in csvs(&a).into_iter().zip(csvs(&b)) {
        assert_eq!(x, y, "{name} differs between two runs with seed 7");
    }
    let differing = csvs(&a).into_iter().zip(csvs(&c)).filter(|((_, x), (_, y))| x != y).count();
    assert!(differing >= 20, "seed 8 should change most files, changed {differing}");
    assert_eq!(a.events_count, b.events_count);
    assert_ne!(a.events_count, c.events_count);
}

#[test]
fn small_run_exercises_every_path_and_balances() {
    let r = run(&small(), 20260217, Sabotage::default()).expect("no breach");
    assert_eq!(r.stop, Stop::Drained);
    assert_eq!(
        r.audit_counts.payments_created_count, r.audit_counts.payments_final_count,
        "every payment final"
    );
    let total = |o: Outcome| r.flows.iter().map(|s| s.count(o)).sum::<u64>();
    assert!(total(Outcome::Approved) > 5000);
    assert!(total(Outcome::ApprovedLate) > 0, "late approvals found by inquiry");
    assert!(total(Outcome::Reversed) > 0, "reversals after the WAN outage");
    assert!(r.flows.iter().all(|s| s.payments_count > 0), "every flow has traffic");
    assert!(!r.nettings.is_empty(), "the 24:00 cut-off falls inside the run");
    assert!(!r.scheme_settlements.is_empty());
    assert!(r.clearing.switch.len() > 1000 && r.clearing.upi.len() > 1000);
    assert!(!r.breaks.is_empty(), "timeouts and the day cut make breaks");
    assert_eq!(r.breaks_unexplained_count, 0, "every break has a cause the world knows");
    // The Beijing day cut (23:00 ICT) falls inside the run: two trade dates.
    let dates: std::collections::BTreeSet<_> =
        r.scheme_settlements.iter().map(|s| s.trade_date).collect();
    assert_eq!(dates.len(), 2);
}

#[test]
fn the_answer_agrees_with_the_outcomes_and_the_series() {
    let r = run(&small(), 7, Sabotage::default()).expect("no breach");
    let h = bakong_sim::report::headline::headline(&r);
    let total = |o: Outcome| r.flows.iter().map(|s| s.count(o)).sum::<u64>();
    assert_eq!(h.total.reversed_count, total(Outcome::Reversed));
    assert_eq!(h.total.manual_payments_count, total(Outcome::Manual));
    assert!(h.total.reversed_count > 0, "the small scenario's WAN outage reverses some");
    assert_eq!(
        h.total.manual_breaks_count,
        r.breaks.iter().filter(|b| b.resolution == Resolution::ManualQueue).count() as u64
    );
    assert_eq!(h.total.payments_count, r.audit_counts.payments_created_count);
    assert_eq!((h.total.lost_count, h.total.in_flight_count), (0, 0), "a drained run");
    let flows_manual: u64 = h.flows.iter().map(|f| f.manual_count).sum();
    assert_eq!(flows_manual, h.total.manual_payments_count);
    // A second is never quieter than its minute's mean, nor busier than the minute holds;
    // all flows' busiest second is at least each flow's and at most their sum.
    for (t, name) in
        h.flows.iter().map(|f| (f.throughput, f.flow.name())).chain([(h.total.throughput, "all")])
    {
        assert!(t.offered_per_s_peak_second >= t.offered_per_s_peak_minute.ceil(), "{name}: {t:?}");
        assert!(t.offered_per_s_peak_second <= t.offered_per_s_peak_minute * 60.0, "{name}");
        assert!(t.completed_per_s_peak_second >= t.completed_per_s_peak_minute.ceil(), "{name}");
        assert!(t.offered_per_s_peak_second >= 1.0, "{name} has traffic");
    }
    let each = |get: fn(&FlowHeadline) -> f64| h.flows.iter().map(get);
    let peak = h.total.throughput.offered_per_s_peak_second;
    assert!(each(|f| f.throughput.offered_per_s_peak_second).all(|x| x <= peak));
    assert!(peak <= each(|f| f.throughput.offered_per_s_peak_second).sum::<f64>());
    let offered: u64 = r.minutes.iter().flatten().map(|m| u64::from(m.offered)).sum();
    let abandoned = total(Outcome::Abandoned);
    assert!(offered <= h.total.payments_count && offered + abandoned >= h.total.payments_count);
}

#[test]
fn every_message_takes_service_at_the_nodes_it_crosses() {
    let r = run(&small(), 20260217, Sabotage::default()).expect("no breach");
    let switch = r.nodes.iter().find(|n| n.name == "bakong_switch").expect("the switch");
    // Requests the switch served, by the hop histograms of the flows that cross it.
    let requests: u64 = r
        .flows
        .iter()
        .flat_map(|f| f.hops.iter().filter(|h| h.node == "bakong_switch"))
        .map(|h| h.latency_us.len())
        .sum();
    let others = switch.others_served_count;
    assert!(requests > 4000, "{requests} requests at the switch");
    assert!(switch.occupancy.served_count >= requests + others);
    // Nearly every request's answer comes back through the switch, and the timeouts of the
    // WAN outage send inquiries and reversal advices through it too.
    assert!(others as f64 > 0.95 * requests as f64, "{others} other messages, {requests} requests");
    let gateway = r.nodes.iter().find(|n| n.name == "bakong_gateway").expect("gateway");
    assert!(gateway.others_served_count > 0);
}

/// One canary: a run with `sabotage` must end in a breach `matches` accepts.
fn check_canary(
    name: &str,
    edit: Option<(&str, &str)>,
    sabotage: Sabotage,
    matches: fn(&Breach) -> bool,
) {
    let text = match edit {
        Some((from, to)) => {
            assert!(SMALL.contains(from), "{name}: edit target missing");
            SMALL.replace(from, to)
        }
        None => SMALL.to_string(),
    };
    let s = scenario::parse(&text).expect("valid");
    match run(&s, 11, sabotage) {
        Ok(_) => panic!("{name}: the auditor missed a deliberately broken core"),
        Err(breach) => assert!(matches(&breach), "{name}: unexpected breach {breach}"),
    }
    // The same scenario without the fault passes: the canary is the fault, not the scenario.
    run(&s, 11, Sabotage::default()).unwrap_or_else(|b| panic!("{name}: clean run breached: {b}"));
}

#[test]
fn auditor_catches_each_broken_core() {
    let duplicating = Some((
        "kh_backbone     = { latency_ms = [5, 20] }",
        "kh_backbone     = { latency_ms = [5, 20], duplicate_pct = 2.0 }",
    ));
    check_canary(
        "duplicates booked twice",
        duplicating,
        Sabotage { rebook_duplicates: true, ..Sabotage::default() },
        |b| matches!(b, Breach::DoubleDebit { .. } | Breach::WalletMismatch { .. }),
    );
    check_canary(
        "final state twice",
        None,
        Sabotage { finalize_twice: true, ..Sabotage::default() },
        |b| matches!(b, Breach::FinalTwice { .. }),
    );
    // Without inquiries, every payment whose answer is lost is reversed at once, so credits are
    // reversed too.
    check_canary(
        "reversal booked twice",
        Some(("inquiry_window_s = 45", "inquiry_window_s = 0")),
        Sabotage { reverse_twice: true, ..Sabotage::default() },
        |b| matches!(b, Breach::ReversalUnmatched { .. }),
    );
    check_canary(
        "unbalanced entry",
        None,
        Sabotage { unbalanced_entry: true, ..Sabotage::default() },
        |b| matches!(b, Breach::Ledger { .. }),
    );
    check_canary(
        "declined holds posted",
        None,
        Sabotage { post_declined_holds: true, ..Sabotage::default() },
        |b| matches!(b, Breach::DoubleDebit { .. }),
    );
}

#[test]
fn shipped_scenarios_are_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("scenarios/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).expect("readable");
            assert!(text.starts_with("# "), "{} opens with a comment", path.display());
            match scenario::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            {
                scenario::ScenarioFile::Network(s) => names.push(s.meta.name),
                scenario::ScenarioFile::Mmc(s) => names.push(s.meta.name),
            }
        }
    }
    names.sort();
    for expected in [
        "chinese-new-year",
        "corridor-hub",
        "fx-shock",
        "growth-10x",
        "liquidity-squeeze",
        "normal-weekday",
        "reference",
        "retry-storm",
        "upi-link-outage",
    ] {
        assert!(names.iter().any(|n| n == expected), "scenarios/ lacks {expected}");
    }
}

#[test]
fn mmc_validation_agrees_with_erlang_c_over_several_seeds() {
    let text = include_str!("../../scenarios/mmc-validation.toml");
    let scenario::ScenarioFile::Mmc(s) = scenario::parse_file(text).expect("valid") else {
        panic!("mmc-validation.toml is an M/M/c scenario");
    };
    for seed in [1, 1001, 2001] {
        let v = bakong_sim::sim::mmc::replicate(&s, seed).expect("runs");
        assert_eq!(v.replications.len(), 32);
        assert!(
            v.agrees(),
            "seed {seed}: Erlang-C Wq {} s outside {} ± {} s",
            v.erlang_c.1,
            v.wait_s_mean,
            v.wait_s_half_width
        );
        assert!(
            v.wait_s_half_width < v.erlang_c.1 * 0.1,
            "the interval is tight enough to mean something"
        );
    }
}

const TINY: &str = include_str!("../data/tiny.toml");

fn tiny_with(edits: &[(&str, &str)]) -> Scenario {
    let mut text = TINY.to_string();
    for (from, to) in edits {
        assert!(text.contains(from), "{from:?} not in tiny.toml");
        text = text.replacen(from, to, 1);
    }
    scenario::parse(&text).unwrap_or_else(|e| panic!("edited tiny.toml: {e}"))
}

const DEFAULT_ROUTES: &str = r#"
[routes.inward]
nodes  = ["cn_issuer", "upi", "bakong_gateway", "bakong_switch", "kh_bank"]
links  = ["payer_app", "cn_backbone", "wan", "kh_backbone", "kh_backbone"]
scheme = "upi"
credit = "kh_bank"

[routes.outward]
nodes  = ["kh_bank", "bakong_switch", "bakong_gateway", "upi", "cn_acquirer"]
links  = ["payer_app", "kh_backbone", "kh_backbone", "wan", "cn_backbone"]
scheme = "upi"
credit = "cn_acquirer"

[routes.remittance]
nodes  = ["kh_bank", "bakong_switch", "bakong_gateway", "upi", "cn_issuer"]
links  = ["payer_app", "kh_backbone", "kh_backbone", "wan", "cn_backbone"]
scheme = "upi"
credit = "cn_issuer"

[routes.domestic]
nodes  = ["kh_bank", "bakong_switch", "kh_bank"]
links  = ["payer_app", "kh_backbone", "kh_backbone"]
scheme = "bakong_switch"
credit = "bakong_switch"

[timeouts]"#;

#[test]
fn the_default_network_written_out_is_the_same_run() {
    let implicit = tiny_with(&[]);
    let explicit = tiny_with(&[("\n[timeouts]", DEFAULT_ROUTES)]);
    let a = run(&implicit, 3, Sabotage::default()).expect("no breach");
    let b = run(&explicit, 3, Sabotage::default()).expect("no breach");
    for ((name, x), (_, y)) in csvs(&a).into_iter().zip(csvs(&b)) {
        assert_eq!(x, y, "{name}: the written-out default routes changed the run");
    }
}

#[test]
fn an_added_node_on_a_route_serves_its_traffic_with_its_own_distribution() {
    let hub_route = r#"
[routes.inward]
nodes  = ["cn_issuer", "upi", "regional_hub", "bakong_gateway", "bakong_switch", "kh_bank"]
links  = ["payer_app", "cn_backbone", "hub_link", "hub_link", "kh_backbone", "kh_backbone"]
scheme = "upi"
credit = "kh_bank"

[timeouts]"#;
    let s = tiny_with(&[
        (
            "bakong_switch  = { servers = 128, queue_max = 20_000, service_ms = [15, 80], other_service_ms = [4, 20] }",
            "bakong_switch  = { servers = 128, queue_max = 20_000, service = { dist = \"constant\", ms = 7 }, other_service = { dist = \"constant\", ms = 7 } }\n\
             regional_hub = { servers = 8, queue_max = 1_000, service = { dist = \"constant\", ms = 3 } }",
        ),
        (
            "kh_backbone     = { latency_ms = [5, 20] }",
            "kh_backbone     = { latency_ms = [5, 20] }\n\
             hub_link = { latency = { dist = \"exponential\", mean_ms = 11 } }",
        ),
        ("\n[timeouts]", hub_route),
    ]);
    let r = run(&s, 5, Sabotage::default()).expect("no breach");
    let node = |name: &str| {
        r.nodes.iter().find(|n| n.name == name).unwrap_or_else(|| panic!("no node {name}"))
    };
    let (hub, switch) = (&node("regional_hub").occupancy, &node("bakong_switch").occupancy);
    assert!(hub.served_count > 100, "the hub served {}", hub.served_count);
    // Constant service: every message busies a server for exactly that long (the hub's
    // other messages take its request's time, the switch's are set to the same).
    assert_eq!(hub.busy_ns, u128::from(hub.served_count) * 3_000_000);
    assert_eq!(switch.busy_ns, u128::from(switch.served_count) * 7_000_000);
    let inward = r.flows.iter().find(|f| f.flow.name() == "inward").expect("inward");
    let hops: Vec<&str> = inward.hops.iter().map(|h| h.node.as_str()).collect();
    assert_eq!(
        hops,
        ["cn_issuer", "upi", "regional_hub", "bakong_gateway", "bakong_switch", "kh_bank"]
    );
    // Only inward crosses the hub; every inward request that got past UPI reached it once,
    // plus the network's duplicates.
    let upi = node("upi").occupancy.served_count;
    assert!(hub.served_count < upi, "hub {} vs upi {upi}", hub.served_count);
    assert!(inward.hops[2].latency_us.min() >= 3_000, "a hub visit takes at least 3 ms");
}

#[test]
fn reversal_advices_are_stored_and_forwarded_until_the_link_returns() {
    // tiny.toml's WAN is down for three minutes: longer than the old six-step back-off
    // (63 s), much shorter than the advices' expiry.
    let expiry = "reversal_expiry_minutes = 360";
    let total = |r: &RunRecord, o: Outcome| r.flows.iter().map(|f| f.count(o)).sum::<u64>();
    let kept = run(&tiny_with(&[]), 11, Sabotage::default()).expect("no breach");
    assert!(total(&kept, Outcome::Reversed) > 0, "the outage reverses payments");
    assert_eq!(total(&kept, Outcome::Manual), 0, "every advice got through after the outage");
    // Advices that expire after a minute: those caught by the outage go to manual handling.
    let short = tiny_with(&[(expiry, "reversal_expiry_minutes = 1")]);
    let expired = run(&short, 11, Sabotage::default()).expect("no breach");
    assert!(total(&expired, Outcome::Manual) > 0, "an expired advice goes to manual");
}

#[test]
fn a_slowed_switch_collapses_without_admission_control_and_recovers_with_it() {
    let text = include_str!("../data/overload.toml");
    let switch = "other_service = { dist = \"constant\", ms = 10 } }";
    let with = |extra: &str| {
        assert!(text.contains(switch));
        let edited = text.replace(
            switch,
            &format!("other_service = {{ dist = \"constant\", ms = 10 }}{extra} }}"),
        );
        scenario::parse(&edited).unwrap_or_else(|e| panic!("{e}"))
    };
    // Approval among the payments that ended in minutes 25 to 55, long after the five-minute
    // slowdown (minutes 10 to 15).
    let after = |r: &RunRecord| {
        let m = &r.minutes[0][25..55];
        let approved: u32 = m.iter().map(|x| x.approved).sum();
        let completed: u32 = m.iter().map(|x| x.completed).sum();
        f64::from(approved) / f64::from(completed.max(1))
    };
    let node = |r: &RunRecord| {
        r.nodes.iter().find(|n| n.name == "bakong_switch").cloned().expect("switch")
    };
    let plain = run(&with(""), 4, Sabotage::default()).expect("no breach");
    assert!(after(&plain) < 0.5, "collapsed: {:.3} approved", after(&plain));
    let dropping = run(&with(", drop_expired = true"), 4, Sabotage::default()).expect("no breach");
    assert!(node(&dropping).occupancy.discarded_count > 1000, "dead work is discarded");
    let capped = with(", admission = { concurrency_max = 30 }");
    let controlled = run(&capped, 4, Sabotage::default()).expect("no breach");
    assert!(after(&controlled) > 0.9, "recovered: {:.3} approved", after(&controlled));
    let throttled = node(&controlled).throttled;
    assert!(throttled.concurrency_count > 100, "{throttled:?}");
    assert_eq!(controlled.stop, Stop::Drained);
}

#[test]
fn a_node_that_gives_up_at_its_deadline_declines_or_stands_in_and_the_books_agree() {
    let switch = "bakong_switch  = { servers = 128, queue_max = 20_000, service_ms = [15, 80], other_service_ms = [4, 20] }";
    let with = |extra: &str| {
        let line = switch.replace(" }", &format!(", {extra} }}"));
        tiny_with(&[(switch, line.as_str())])
    };
    let count = |r: &RunRecord, o: Outcome| r.flows.iter().map(|f| f.count(o)).sum::<u64>();
    let missed = |r: &RunRecord| {
        r.nodes
            .iter()
            .find(|n| n.name == "bakong_switch")
            .expect("switch")
            .relay
            .deadlines_missed_count
    };
    // 80 ms: about half of the acquirers' answers come later (their service alone has an 80 ms
    // median). The switch declines those upstream and reverses downstream; the auditor checks
    // that every credit so reversed is undone, and no payment is final before its advice is.
    let declined = run(&with("deadline_s = 0.08"), 2, Sabotage::default()).expect("no breach");
    let timeouts = count(&declined, Outcome::Declined(Decline::HopTimeout));
    assert!(missed(&declined) > 100, "{} deadlines missed", missed(&declined));
    assert!(timeouts > 100, "{timeouts} declined at the switch's deadline");
    assert_eq!(count(&declined, Outcome::Manual), 0);
    assert_eq!(declined.stop, Stop::Drained);
    // Standing in instead: those payments are approved, and the far side books them.
    let stood = run(&with("deadline_s = 0.08, on_deadline = \"stand_in\""), 2, Sabotage::default())
        .expect("no breach");
    assert!(missed(&stood) > 100);
    assert_eq!(count(&stood, Outcome::Declined(Decline::HopTimeout)), 0);
    let inward = |r: &RunRecord| {
        r.flows
            .iter()
            .find(|f| f.flow.name() == "inward")
            .map(|f| f.approval_ratio())
            .expect("inward")
    };
    assert!(
        inward(&stood) > inward(&declined) + 0.2,
        "{} vs {}",
        inward(&stood),
        inward(&declined)
    );
    assert_eq!(stood.stop, Stop::Drained);
}

#[test]
fn a_breaker_opens_toward_a_hop_that_stops_answering() {
    // UPI waits 5 s for Bakong; the WAN is down for three minutes: its breaker opens and UPI
    // declines inward payments at once instead of sending them into the outage.
    let upi = "upi            = { servers = 256, queue_max = 10_000, service_ms = [25, 120], other_service_ms = [8, 40] }";
    let line = upi.replace(" }", ", deadline_s = 5, breaker = { failure_pct = 50, window_s = 120, requests_min = 3, open_s = 60 } }");
    let r = run(&tiny_with(&[(upi, line.as_str())]), 3, Sabotage::default()).expect("no breach");
    let node = r.nodes.iter().find(|n| n.name == "upi").expect("upi");
    assert!(node.relay.breaker_opened_count > 0, "{:?}", node.relay);
    assert!(node.relay.breaker_refused_count > 0, "{:?}", node.relay);
    let open: u64 = r.flows.iter().map(|f| f.count(Outcome::Declined(Decline::CircuitOpen))).sum();
    assert_eq!(open, node.relay.breaker_refused_count, "each refusal is a payment declined");
    assert_eq!(r.stop, Stop::Drained);
}

#[test]
fn surges_lift_the_busiest_second_and_keep_the_volume() {
    // The M/M/4 network's flat 20 payments a second, plain and with surges of three times the
    // rate for a tenth of the time in two-second episodes.
    let text = include_str!("../data/mmc-network.toml");
    let plain = scenario::parse(text).expect("valid");
    let surging = text.replace(
        "retry_pct = 0\n",
        "retry_pct = 0\nsurges = { x = 3, share_pct = 10, mean_s = 2 }\n",
    );
    let surging = scenario::parse(&surging).expect("valid");
    let figures = |s: &Scenario| {
        let r = run(s, 9, Sabotage::default()).expect("no breach");
        let f = &r.flows[0];
        let offered: u32 = r.minutes[0][..60].iter().map(|m| m.offered).sum();
        (f.peak_seconds.offered.peak, f64::from(offered))
    };
    let (plain_peak, plain_offered) = figures(&plain);
    let (surge_peak, surge_offered) = figures(&surging);
    let mean = plain_offered / 3600.0;
    assert!(f64::from(plain_peak) < 2.2 * mean, "plain Poisson: peak {plain_peak}, mean {mean:.1}");
    assert!(f64::from(surge_peak) > 2.5 * mean, "surges: peak {surge_peak}, mean {mean:.1}");
    assert!(
        (surge_offered / plain_offered - 1.0).abs() < 0.03,
        "{surge_offered} vs {plain_offered}"
    );
}

#[test]
fn participants_get_their_own_servers_and_each_bank_its_figures() {
    let bank = "kh_bank        = { servers = 96,  queue_max = 10_000, service_ms = [80, 500], other_service_ms = [20, 120] }";
    let issuer = "cn_issuer      = { servers = 64,  queue_max = 2_000,  service_ms = [60, 350], other_service_ms = [15, 90] }";
    let s = tiny_with(&[
        (bank, &bank.replace("servers = 96,", "servers = 400, servers_by_share = true,")),
        (
            issuer,
            &issuer.replace("servers = 64,", "servers = 1, servers_each = [7, 6, 5, 4, 3, 2, 1],"),
        ),
    ]);
    let r = run(&s, 6, Sabotage::default()).expect("no breach");
    let servers = |prefix: &str| -> Vec<u32> {
        r.nodes.iter().filter(|n| n.name.starts_with(prefix)).map(|n| n.servers).collect()
    };
    // Shares 40, 20, 10, eight of 3.75 and a 0: of 400 servers, 160, 80, 40, 15 each, and one.
    assert_eq!(servers("kh_bank["), [160, 80, 40, 15, 15, 15, 15, 15, 15, 15, 15, 1]);
    assert_eq!(servers("cn_issuer["), [7, 6, 5, 4, 3, 2, 1]);
    // Each flow's banks add up to the flow.
    for f in &r.flows {
        let payments: u64 = f.banks.iter().map(|b| b.payments_count).sum();
        assert_eq!(payments, f.payments_count, "{}", f.flow.name());
        let approved: u64 = f.banks.iter().map(|b| b.approved_count).sum();
        let outcomes: u64 =
            f.outcomes.iter().filter(|(o, _)| o.is_approved()).map(|(_, n)| n).sum();
        assert_eq!(approved, outcomes, "{}", f.flow.name());
        let latencies: u64 = f.banks.iter().map(|b| b.latency_approved.len()).sum();
        assert_eq!(latencies, f.latency_approved.len(), "{}", f.flow.name());
    }
    let bank11 = r.flows.iter().map(|f| f.banks[11].payments_count).sum::<u64>();
    assert_eq!(bank11, 0, "the bank with no share has no customers");
}

#[test]
fn a_bank_short_of_liquidity_declines_or_holds_and_settlement_never_fails() {
    // Every bank prefunded with five dollars: most USD payments do not fit under the cap
    // until the bank is owed enough (the 24:00 cut-off settles and tops up in between).
    let settlement = "[settlement]";
    let short = |on_short: &str| {
        tiny_with(&[(
            settlement,
            &format!("[liquidity]\nprefund_usd = \"5\"\non_short = \"{on_short}\"\n\n[settlement]"),
        )])
    };
    let declined = run(&short("decline"), 8, Sabotage::default()).expect("no breach");
    let count = |r: &RunRecord| {
        r.flows
            .iter()
            .map(|f| f.count(Outcome::Declined(Decline::InsufficientLiquidity)))
            .sum::<u64>()
    };
    let shorts: u64 = declined.liquidity.iter().map(|b| b.short_count.iter().sum::<u64>()).sum();
    assert!(shorts > 20, "{shorts} payments did not fit");
    assert_eq!(count(&declined), shorts, "each is a payment declined");
    assert!(declined.netting_refusals.is_empty(), "no bank is ever asked for more than it has");
    let held = run(&short("hold"), 8, Sabotage::default()).expect("no breach");
    let holds: u64 = held.liquidity.iter().map(|b| b.held_count.iter().sum::<u64>()).sum();
    assert!(holds > 20, "{holds} payments held");
    assert_eq!(count(&held), 0, "held, not declined");
    assert!(held.netting_refusals.is_empty());
    // Topping up after the 24:00 cut-off moved money in.
    let topped: i64 = held.liquidity.iter().map(|b| b.topped_up_minor[1]).sum();
    assert!(topped > 0);
}

#[test]
fn a_crashed_switch_loses_what_it_held_and_every_payment_still_ends_once() {
    // The switch is down for three minutes at the Beijing day cut: the messages it held and
    // those sent to it meanwhile are lost; its timers wait for the restart; the originators
    // inquire and reverse, and the books still balance.
    let crash = "[[windows]]\nname = \"switch_crash\"\nfrom = 2026-02-16T22:58:00+07:00\n\
                 to = 2026-02-16T23:01:00+07:00\ntargets = [\"bakong_switch\"]\ncrash = true\n\n\
                 [[windows]]\nname = \"upi_national_peak\"";
    let total = |r: &RunRecord, o: Outcome| r.flows.iter().map(|f| f.count(o)).sum::<u64>();
    // Fifty times tiny's traffic, so that payments are open when it crashes.
    let busier = (
        "[[windows]]\nname = \"upi_national_peak\"",
        "[load]\nmultiplier = 50\n\n[[windows]]\nname = \"upi_national_peak\"",
    );
    let calm = run(&tiny_with(&[busier]), 5, Sabotage::default()).expect("no breach");
    let crashed = run(
        &tiny_with(&[busier, ("[[windows]]\nname = \"upi_national_peak\"", crash)]),
        5,
        Sabotage::default(),
    )
    .expect("no breach");
    assert_eq!(calm.marks.crash_lost_count, 0);
    assert!(crashed.marks.crash_lost_count > 50, "{:?}", crashed.marks);
    assert!(crashed.marks.crash_open_hold_count > 5, "{:?}", crashed.marks);
    assert_eq!(crashed.stop, bakong_sim::record::Stop::Drained);
    let c = crashed.audit_counts;
    assert_eq!(c.payments_created_count, c.payments_final_count, "every payment ended once");
    let timed_out = |r: &RunRecord| total(r, Outcome::Reversed) + total(r, Outcome::Manual);
    assert!(
        timed_out(&crashed) > timed_out(&calm) + 20,
        "the crash times payments out: {} against {}",
        timed_out(&crashed),
        timed_out(&calm)
    );
}
