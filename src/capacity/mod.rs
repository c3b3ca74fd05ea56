//! Capacity studies, in a layer above the simulator: independent replications of a scenario
//! on several threads (the simulator itself stays single-threaded), and the figures a capacity
//! review compares.
//!
//! Each task is one run of a `World` with a seed fixed by the task's place in the study, so
//! the results are the same, byte for byte, whatever the number of threads. Seeds are
//! independent streams drawn from the base seed ([`replication_seeds`]), never `seed + i`.

mod parallel;
pub mod swarm;
pub mod sweep;

pub use parallel::map_in_order;

use crate::record::study::{Headline, Replications};
use crate::scenario::Scenario;
use crate::sim::audit::Breach;
use crate::sim::rng::Prng;
use crate::sim::world::{DiscardClearing, TooBig, World, check_memory, footprint::megabytes};

/// Most replications of one study point.
pub const REPLICATIONS_MAX: u32 = 10_000;
/// Most threads a study runs on.
pub const JOBS_MAX: usize = 256;
/// The stream namespace of replication seeds (distinct from every entity's namespace in a run).
const STREAM_REPLICATIONS: u64 = 0xC0 << 56;

/// The seeds of `n` replications from `base`: replication 0 runs with `base` itself (so one
/// replication is the plain run), replication `i > 0` with the first draw of its own stream.
pub fn replication_seeds(base: u64, n: u32) -> Vec<u64> {
    (0..u64::from(n))
        .map(|i| if i == 0 { base } else { Prng::stream(base, STREAM_REPLICATIONS | i).next_u64() })
        .collect()
}

/// Why a study could not be run, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    /// One run would not fit its memory limit.
    #[error(transparent)]
    TooBig(#[from] TooBig),
    /// Several runs at once would not.
    #[error(
        "{jobs} runs at once would need about {}, more than [limits] memory_mb_max = \
         {limit_mb} MiB; use fewer --jobs (at most {fit})",
        megabytes(*estimate_bytes)
    )]
    TooManyJobs {
        /// Runs at once.
        jobs: usize,
        /// Their estimate together, bytes.
        estimate_bytes: u64,
        /// The limit, MiB.
        limit_mb: u32,
        /// How many would fit.
        fit: u64,
    },
    /// A limit of the study itself.
    #[error("{0}")]
    Limit(String),
    /// A run broke an invariant.
    #[error("replication {index} (seed {seed}): invariant breach: {breach}")]
    Breach {
        /// Which replication.
        index: usize,
        /// Its seed (`sim run FILE --seed SEED` replays it).
        seed: u64,
        /// What broke.
        breach: Breach,
    },
}

/// Checks a study's shape and memory: `n` replications on `jobs` threads.
///
/// # Errors
/// [`StudyError`] when it is out of limits or would not fit in memory.
pub fn check(s: &Scenario, n: u32, jobs: usize) -> Result<(), StudyError> {
    if !(1..=REPLICATIONS_MAX).contains(&n) {
        return Err(StudyError::Limit(format!("--replications must be 1 to {REPLICATIONS_MAX}")));
    }
    if !(1..=JOBS_MAX).contains(&jobs) {
        return Err(StudyError::Limit(format!("--jobs must be 1 to {JOBS_MAX}")));
    }
    let one = check_memory(s)?.total_bytes();
    let at_once = jobs.min(n as usize);
    let limit = u64::from(s.limits.memory_mb_max) << 20;
    if one * at_once as u64 > limit {
        return Err(StudyError::TooManyJobs {
            jobs: at_once,
            estimate_bytes: one * at_once as u64,
            limit_mb: s.limits.memory_mb_max,
            fit: (limit / one.max(1)).max(1),
        });
    }
    Ok(())
}

/// One replication: replication `index` of `s`, run with `seed`, reduced to its headline.
///
/// # Errors
/// [`StudyError::TooBig`], or a breach naming the replication and its seed.
pub(crate) fn run_one(s: &Scenario, index: usize, seed: u64) -> Result<Headline, StudyError> {
    let world = World::new(s, seed)?;
    let record = world
        .run_streaming(&mut |_| {}, Some(&mut DiscardClearing))
        .map_err(|breach| StudyError::Breach { index, seed, breach })?;
    Ok(crate::report::headline::headline(&record))
}

/// Runs `n` replications of `s` from base seed `seed` on `jobs` threads, calling `done` (from
/// the worker threads) as each finishes.
///
/// # Errors
/// As [`check`]; a breach in any replication (the first in replication order).
pub fn replicate(
    s: &Scenario,
    seed: u64,
    n: u32,
    jobs: usize,
    done: &(dyn Fn(usize) + Sync),
) -> Result<Replications, StudyError> {
    check(s, n, jobs)?;
    let seeds = replication_seeds(seed, n);
    let results = map_in_order(seeds.len(), jobs, |i| {
        let run = run_one(s, i, seeds[i]);
        done(i);
        run
    });
    let replications = results.into_iter().collect::<Result<Vec<Headline>, _>>()?;
    Ok(Replications { scenario: s.meta.name.clone(), seed, replications })
}
