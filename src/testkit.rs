//! One scenario text driven the whole way, within bounds, for the tests and fuzzers that hold
//! the promise "every scenario is refused with a located error or runs to a report; nothing
//! panics" (`tests/it/attacks.rs`, `fuzz/fuzz_targets/scenario_run.rs`).
//!
//! Not part of the tool: it caps the run (events, memory, M/M/c customers) so that any input
//! costs milliseconds, and renders the report in memory without writing it.

use crate::report;
use crate::scenario::{self, ScenarioError, ScenarioFile};
use crate::sim::world::{TooBig, World};

/// How far a run driven by [`exercise`] may go.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Events at most (the scenario's own limit if lower).
    pub events_max: u64,
    /// Memory at most, MiB (the scenario's own limit if lower).
    pub memory_mb_max: u32,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds { events_max: 200_000, memory_mb_max: 256 }
    }
}

/// How a scenario text ended.
#[derive(Debug)]
pub enum Ending {
    /// Refused by the parser or validation, with its place.
    Refused(ScenarioError),
    /// Valid, but refused before building: its memory estimate is above the limit.
    TooBig(TooBig),
    /// Ran to a report.
    Ran {
        /// Files the report has.
        files_count: usize,
        /// Whether every payment reached a final state.
        complete: bool,
        /// The report's findings (incomplete, settlement refused).
        findings: Vec<String>,
    },
}

/// Parses, validates and (within `bounds`) runs `text` with `seed`, then renders its whole
/// report in memory.
///
/// # Errors
/// A broken promise, said in words: an error that points outside the text, or an invariant
/// breach in a valid scenario. (A panic is broken promise too; the caller sees it as one.)
pub fn exercise(text: &str, seed: u64, bounds: Bounds) -> Result<Ending, String> {
    let file = match scenario::parse_file(text) {
        Ok(file) => file,
        Err(e) => {
            let lines = text.split('\n').count().max(1);
            if e.line < 1 || e.line > lines || e.column < 1 || e.message.is_empty() {
                return Err(format!(
                    "an error that says nowhere: {e} (the text has {lines} lines)"
                ));
            }
            return Ok(Ending::Refused(e));
        }
    };
    let mut s = match file {
        ScenarioFile::Network(s) => s,
        ScenarioFile::Mmc(mut m) => {
            m.mmc.customers = m.mmc.customers.min(2_000);
            m.mmc.replications = m.mmc.replications.min(3);
            let v = crate::sim::mmc::replicate(&m, seed).map_err(|e| format!("M/M/c: {e}"))?;
            let files = report::mmc::files(&v);
            return Ok(Ending::Ran { files_count: files.len(), complete: true, findings: vec![] });
        }
    };
    s.limits.events_max = s.limits.events_max.min(bounds.events_max);
    s.limits.memory_mb_max = s.limits.memory_mb_max.min(bounds.memory_mb_max);
    let world = match World::new(&s, seed) {
        Ok(world) => world,
        Err(too_big) => return Ok(Ending::TooBig(too_big)),
    };
    let record = world.run(&mut |_| {}).map_err(|breach| format!("invariant breach: {breach}"))?;
    let meta = report::RunMeta {
        scenario_path: "exercise.toml".into(),
        scenario_hash: "sha256:exercise".into(),
        overrides: Vec::new(),
        commit: "exercise".into(),
        wall_seconds: 1.0,
        peak_rss_bytes: None,
    };
    let files = report::files(&record, &meta).map_err(|e| format!("plots: {e}"))?;
    Ok(Ending::Ran {
        files_count: files.len(),
        complete: record.stop == crate::sim::world::Stop::Drained,
        findings: report::findings(&record),
    })
}
