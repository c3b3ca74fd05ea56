//! An M/M/c node on the event queue: Poisson arrivals, `c` servers, exponential service, FIFO,
//! on the same [`Station`] the payment world's nodes are, so the Erlang-C check validates the
//! code the world runs.
//!
//! It is the engine's yardstick (its throughput is benchmarked against a bare binary-heap loop
//! and SimPy) and its check: the measured mean wait must agree with Erlang-C, and Little's law
//! must hold *exactly*. Time is integer nanoseconds, and a run starts and ends empty, so the area
//! under the number-in-system curve equals the sum of sojourn times to the nanosecond; any
//! difference means a lost, duplicated or mistimed customer.

use super::queue::{EventQueue, QueueFull};
use super::rng::Prng;
use super::station::{Arrival, Class, Station};
use crate::payments::time::Timestamp;
pub use crate::record::mmc::{MmcReport, MmcValidation};
use crate::record::study::t_975;

use crate::scenario::MmcScenario;

/// An M/M/c experiment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MmcConfig {
    /// Servers, at least 1.
    pub servers: u32,
    /// Arrivals per second (λ).
    pub arrival_rate_per_s: f64,
    /// Services per second per server (μ).
    pub service_rate_per_s: f64,
    /// Customers to run through.
    pub customers: u64,
    /// The run's seed.
    pub seed: u64,
    /// The most customers waiting at once.
    pub waiting_max: usize,
}

/// Why an M/M/c run could not be done.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
pub enum MmcError {
    /// Rates must be positive and finite, servers and customers at least 1.
    #[error(
        "impossible parameters: servers {servers}, λ {arrival_rate_per_s}/s, μ {service_rate_per_s}/s, customers {customers}"
    )]
    Impossible {
        /// Servers given.
        servers: u32,
        /// λ given.
        arrival_rate_per_s: f64,
        /// μ given.
        service_rate_per_s: f64,
        /// Customers given.
        customers: u64,
    },
    /// More customers waited at once than `waiting_max`.
    #[error("more than {0} customers waiting: the queue limit stopped the run")]
    WaitingLimit(usize),
    /// The event queue was full.
    #[error(transparent)]
    Queue(#[from] QueueFull),
}

/// Erlang-C for M/M/c: (probability of waiting, mean wait Wq, mean sojourn W), in seconds.
/// `None` when the system is not stable (λ ≥ cμ).
pub fn erlang_c(servers: u32, arrival_rate: f64, service_rate: f64) -> Option<(f64, f64, f64)> {
    let c = f64::from(servers);
    let a = arrival_rate / service_rate;
    let rho = a / c;
    // Also refuses a NaN load, which compares false with everything.
    if rho.partial_cmp(&1.0) != Some(std::cmp::Ordering::Less) || servers == 0 {
        return None;
    }
    let mut term = 1.0;
    let mut sum = 1.0; // k = 0
    for k in 1..servers {
        term *= a / f64::from(k);
        sum += term;
    }
    let top = term * a / c / (1.0 - rho); // a^c / c! / (1 − ρ)
    let p_wait = top / (sum + top);
    let wq = p_wait / (c * service_rate - arrival_rate);
    Some((p_wait, wq, wq + 1.0 / service_rate))
}

#[derive(Clone, Copy, Debug)]
enum Event {
    Arrival,
    Departure { arrived_at: Timestamp },
}

/// Runs the experiment. A pure function of `config`.
///
/// # Errors
/// [`MmcError`].
pub fn run_mmc(config: MmcConfig) -> Result<MmcReport, MmcError> {
    let MmcConfig { servers, arrival_rate_per_s, service_rate_per_s, customers, seed, waiting_max } =
        config;
    let valid = |r: f64| r.is_finite() && r > 0.0;
    if servers == 0 || customers == 0 || !valid(arrival_rate_per_s) || !valid(service_rate_per_s) {
        return Err(MmcError::Impossible {
            servers,
            arrival_rate_per_s,
            service_rate_per_s,
            customers,
        });
    }
    let (mean_gap_ns, mean_service_ns) = (1e9 / arrival_rate_per_s, 1e9 / service_rate_per_s);
    let mut arrivals = Prng::stream(seed, 0);
    let mut services = Prng::stream(seed, 1);
    let start = Timestamp::EPOCH;
    let mut queue = EventQueue::new(start, servers as usize + 2);
    let after = |now: Timestamp, ns: u64| Timestamp::from_nanos(now.as_nanos() + ns);
    queue.schedule(after(start, arrivals.exponential_ns(mean_gap_ns)), Event::Arrival)?;
    let queue_max = u32::try_from(waiting_max).unwrap_or(u32::MAX);
    let mut station: Station<()> = Station::new(servers, queue_max, start);
    let (mut arrived, mut last) = (0u64, start);
    let (mut customers_count, mut events_count) = (0u64, 0u64);
    while let Some((now, event)) = queue.pop() {
        events_count += 1;
        last = now;
        match event {
            Event::Arrival => {
                arrived += 1;
                if arrived < customers {
                    queue.schedule(
                        after(now, arrivals.exponential_ns(mean_gap_ns)),
                        Event::Arrival,
                    )?;
                }
                match station.arrive(now, (), Class::High) {
                    Arrival::Started => {
                        let done = after(now, services.exponential_ns(mean_service_ns));
                        queue.schedule(done, Event::Departure { arrived_at: now })?;
                    }
                    Arrival::Queued => {}
                    Arrival::Refused(()) => return Err(MmcError::WaitingLimit(waiting_max)),
                }
            }
            Event::Departure { arrived_at } => {
                customers_count += 1;
                if let Some(next) = station.finish(now, arrived_at) {
                    let done = after(now, services.exponential_ns(mean_service_ns));
                    queue.schedule(done, Event::Departure { arrived_at: next.arrived })?;
                }
            }
        }
    }
    assert!(station.is_idle(), "every customer leaves");
    assert_eq!(customers_count, customers, "every customer leaves exactly once");
    let s = station.stats();
    let report = MmcReport {
        customers_count,
        events_count,
        wait_ns_sum: s.wait_ns,
        sojourn_ns_sum: s.sojourn_ns,
        area_ns: s.in_system_ns,
        end_ns: last.as_nanos(),
        waiting_max_seen: s.queue_len_max as usize,
    };
    Ok(report)
}

/// Runs the scenario's replications with seeds `seed`, `seed + 1`, … and compares their mean
/// wait with Erlang-C.
///
/// # Errors
/// [`MmcError`] from the engine.
pub fn replicate(s: &MmcScenario, seed: u64) -> Result<MmcValidation, MmcError> {
    let m = &s.mmc;
    let service_rate = 1000.0 / m.service_mean_ms;
    let replications = (0..u64::from(m.replications))
        .map(|i| {
            run_mmc(MmcConfig {
                servers: m.servers,
                arrival_rate_per_s: m.arrival_per_second,
                service_rate_per_s: service_rate,
                customers: m.customers,
                seed: seed.wrapping_add(i),
                waiting_max: 10_000_000,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let waits: Vec<f64> = replications.iter().map(MmcReport::mean_wait_s).collect();
    let n = waits.len() as f64;
    let mean = waits.iter().sum::<f64>() / n;
    let variance = waits.iter().map(|w| (w - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let half = t_975(waits.len() - 1) * (variance / n).sqrt();
    Ok(MmcValidation {
        name: s.meta.name.clone(),
        description: s.meta.description.clone(),
        servers: m.servers,
        arrival_per_second: m.arrival_per_second,
        service_mean_ms: m.service_mean_ms,
        customers: m.customers,
        seed,
        seeds: (0..u64::from(m.replications)).map(|i| seed.wrapping_add(i)).collect(),
        replications,
        erlang_c: erlang_c(m.servers, m.arrival_per_second, service_rate)
            .expect("validated: the node is stable"),
        wait_s_mean: mean,
        wait_s_half_width: half,
    })
}

#[cfg(test)]
mod tests {
    //! Goal: the model is deterministic per seed, Little's law holds to the nanosecond, and the
    //! mean wait agrees with Erlang-C within the 95 % confidence interval over several seeds.
    //! Method: runs of 50 000 customers at ρ = 0.8 (a few milliseconds each).

    use super::*;

    fn config(seed: u64) -> MmcConfig {
        MmcConfig {
            servers: 4,
            arrival_rate_per_s: 3.2,
            service_rate_per_s: 1.0,
            customers: 50_000,
            seed,
            waiting_max: 100_000,
        }
    }

    #[test]
    fn erlang_c_matches_published_values() {
        let (p_wait, wq, w) = erlang_c(4, 3.2, 1.0).expect("stable");
        assert!((p_wait - 0.596_49).abs() < 1e-4, "{p_wait}");
        assert!((wq - 0.745_61).abs() < 1e-4, "{wq}");
        assert!((w - 1.745_61).abs() < 1e-4, "{w}");
        assert_eq!(erlang_c(4, 4.0, 1.0), None, "ρ = 1 is not stable");
        let (p1, wq1, _) = erlang_c(1, 0.5, 1.0).expect("stable");
        assert!((p1 - 0.5).abs() < 1e-12 && (wq1 - 1.0).abs() < 1e-12, "M/M/1: Wq = ρ/(μ−λ)");
    }

    #[test]
    fn students_t_matches_the_tables() {
        for (df, t) in [(1, 12.706), (7, 2.365), (30, 2.042), (100, 1.984)] {
            assert!((t_975(df) - t).abs() < 5e-4, "t({df}) = {}", t_975(df));
        }
    }

    #[test]
    fn runs_are_pure_functions_of_the_seed() {
        assert_eq!(run_mmc(config(42)), run_mmc(config(42)));
        assert_ne!(run_mmc(config(42)), run_mmc(config(43)));
    }

    #[test]
    fn littles_law_holds_to_the_nanosecond() {
        for seed in 1..=3 {
            let r = run_mmc(config(seed)).expect("runs");
            assert_eq!(r.area_ns, r.sojourn_ns_sum, "seed {seed}");
            assert_eq!(r.events_count, 2 * r.customers_count);
        }
    }

    #[test]
    fn mean_wait_agrees_with_erlang_c() {
        let (_, wq, _) = erlang_c(4, 3.2, 1.0).expect("stable");
        let means: Vec<f64> =
            (1..=8).map(|seed| run_mmc(config(seed)).expect("runs").mean_wait_s()).collect();
        let n = means.len() as f64;
        let mean = means.iter().sum::<f64>() / n;
        let sd = (means.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        let half_width = t_975(7) * sd / n.sqrt();
        assert!((mean - wq).abs() <= half_width, "Wq {mean} ± {half_width} vs Erlang-C {wq}");
    }

    #[test]
    fn impossible_parameters_and_limits_are_refused() {
        let bad = MmcConfig { service_rate_per_s: f64::NAN, ..config(1) };
        assert!(matches!(run_mmc(bad), Err(MmcError::Impossible { .. })));
        assert!(matches!(
            run_mmc(MmcConfig { servers: 0, ..config(1) }),
            Err(MmcError::Impossible { .. })
        ));
        let overloaded = MmcConfig { arrival_rate_per_s: 8.0, waiting_max: 100, ..config(1) };
        assert_eq!(run_mmc(overloaded), Err(MmcError::WaitingLimit(100)));
    }
}
