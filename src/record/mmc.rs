//! What an M/M/c validation produced: one report per replication, Erlang-C's answer, and the
//! measured mean wait with its interval.

/// What a run measured, in integer nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmcReport {
    /// Customers served.
    pub customers_count: u64,
    /// Events handled.
    pub events_count: u64,
    /// Σ time waiting for a server.
    pub wait_ns_sum: u128,
    /// Σ time in the system.
    pub sojourn_ns_sum: u128,
    /// ∫ number in system dt.
    pub area_ns: u128,
    /// The instant the last customer left, from the start.
    pub end_ns: u64,
    /// The most customers waiting at once.
    pub waiting_max_seen: usize,
}

impl MmcReport {
    /// Mean wait for a server, seconds.
    pub fn mean_wait_s(&self) -> f64 {
        self.wait_ns_sum as f64 / self.customers_count as f64 / 1e9
    }

    /// Mean time in the system, seconds.
    pub fn mean_sojourn_s(&self) -> f64 {
        self.sojourn_ns_sum as f64 / self.customers_count as f64 / 1e9
    }

    /// Time-average number in the system.
    pub fn mean_in_system(&self) -> f64 {
        self.area_ns as f64 / self.end_ns as f64
    }
}

/// An M/M/c validation: the model, every replication, Erlang-C, and the interval.
#[derive(Clone, Debug, PartialEq)]
pub struct MmcValidation {
    /// Scenario name.
    pub name: String,
    /// What it demonstrates.
    pub description: String,
    /// Servers (c).
    pub servers: u32,
    /// Arrivals per second (λ).
    pub arrival_per_second: f64,
    /// Mean service time, milliseconds (1/μ).
    pub service_mean_ms: f64,
    /// Customers per replication.
    pub customers: u64,
    /// The base seed.
    pub seed: u64,
    /// Each replication's seed.
    pub seeds: Vec<u64>,
    /// One report per replication.
    pub replications: Vec<MmcReport>,
    /// Erlang-C: probability of waiting, Wq, W (seconds).
    pub erlang_c: (f64, f64, f64),
    /// Mean of the replications' mean waits, seconds.
    pub wait_s_mean: f64,
    /// Half-width of its 95 % confidence interval, seconds.
    pub wait_s_half_width: f64,
}

impl MmcValidation {
    /// Whether Erlang-C's Wq lies inside the interval.
    pub fn agrees(&self) -> bool {
        (self.erlang_c.1 - self.wait_s_mean).abs() <= self.wait_s_half_width
    }
}
