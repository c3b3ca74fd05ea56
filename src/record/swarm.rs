//! What a swarm fault campaign produced (`sim swarm`): per seed, the faults it drew, the
//! verdict of the checks, and the marks it reached. `capacity::swarm` writes it, `report`
//! renders it.

use super::Marks;

/// Every kind of fault a mix may hold, in the order they are drawn.
pub const FAULT_KINDS: &[&str] = &[
    "link_outage",
    "link_loss",
    "link_duplication",
    "link_reorder",
    "node_crash",
    "node_stall",
    "fx_shock",
    "clock_skew",
    "liquidity_squeeze",
    "reversal_failures",
    "presentments",
];

/// One fault of a seed's mix, as the campaign drew it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Its kind (`link_outage`, `node_crash`, …).
    pub kind: &'static str,
    /// What it strikes and how hard, in words (`wan for 94 s from 22:41:10`).
    pub what: String,
}

/// What the checks said of one seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every check held.
    Clean,
    /// The drawn scenario was refused: a bug in the campaign's bounds.
    Refused(String),
    /// The auditor found a broken invariant (the run stopped there).
    Breach(String),
    /// After healing, a payment was not final, or the run did not drain.
    NotLive(String),
    /// Reconciliation found a break that nothing explains.
    Unexplained(String),
    /// The second run of the seed differed from the first.
    Nondeterministic(String),
}

impl Verdict {
    /// The verdict of `name` with `detail` (reading a campaign back).
    pub fn from_name(name: &str, detail: Option<&str>) -> Option<Verdict> {
        let d = || detail.unwrap_or("").to_string();
        Some(match name {
            "clean" => Verdict::Clean,
            "refused" => Verdict::Refused(d()),
            "breach" => Verdict::Breach(d()),
            "not_live" => Verdict::NotLive(d()),
            "unexplained" => Verdict::Unexplained(d()),
            "nondeterministic" => Verdict::Nondeterministic(d()),
            _ => return None,
        })
    }

    /// Its key in `swarm.json`.
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Clean => "clean",
            Verdict::Refused(_) => "refused",
            Verdict::Breach(_) => "breach",
            Verdict::NotLive(_) => "not_live",
            Verdict::Unexplained(_) => "unexplained",
            Verdict::Nondeterministic(_) => "nondeterministic",
        }
    }

    /// What was wrong, for a failing verdict.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Verdict::Clean => None,
            Verdict::Refused(d)
            | Verdict::Breach(d)
            | Verdict::NotLive(d)
            | Verdict::Unexplained(d)
            | Verdict::Nondeterministic(d) => Some(d),
        }
    }
}

/// One seed of a campaign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedOutcome {
    /// The seed: of the fault mix and of the run.
    pub seed: u64,
    /// The faults drawn.
    pub faults: Vec<Fault>,
    /// The same mix as `--set` arguments on the scenario.
    pub overrides: Vec<String>,
    /// The checks' verdict.
    pub verdict: Verdict,
    /// The states it reached (zero when the run broke).
    pub marks: Marks,
    /// Payments created.
    pub payments_count: u64,
}

/// A campaign: its seeds in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Campaign {
    /// The scenario's name.
    pub scenario: String,
    /// The first and last seed asked for (inclusive).
    pub seeds_from: u64,
    /// The last seed.
    pub seeds_to: u64,
    /// `(I, N)` when only the seeds at positions I mod N ran.
    pub shard: Option<(usize, usize)>,
    /// The canary planted, if any (a test of the campaign itself).
    pub canary: Option<&'static str>,
    /// Each seed run.
    pub seeds: Vec<SeedOutcome>,
}

impl Campaign {
    /// The seeds whose verdict is not clean.
    pub fn failed(&self) -> impl Iterator<Item = &SeedOutcome> {
        self.seeds.iter().filter(|s| s.verdict != Verdict::Clean)
    }
}
