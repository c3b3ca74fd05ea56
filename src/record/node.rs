//! A node's figures: what it served and refused, its longest queue, and the integrals of busy
//! servers and requests present that give utilisation and Little's law.

/// What a station (a node, or the M/M/c model's one) has measured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Occupancy {
    /// Requests that finished service.
    pub served_count: u64,
    /// Requests refused because the queue was full.
    pub refused_count: u64,
    /// Requests that took a server and left unserved: dead work, their originator having given
    /// up (counted as departures in the sojourn sum, so Little's law holds).
    pub discarded_count: u64,
    /// Longest queue seen.
    pub queue_len_max: u64,
    /// ∫ busy servers dt, server-nanoseconds.
    pub busy_ns: u128,
    /// ∫ requests present (waiting or in service) dt, request-nanoseconds.
    pub in_system_ns: u128,
    /// Σ time from arrival to end of service of the requests served, ns.
    pub sojourn_ns: u128,
    /// Σ time waiting for a server of the requests that started service, ns.
    pub wait_ns: u128,
}

/// A node's figures.
#[derive(Clone, Debug)]
pub struct NodeStats {
    /// Its name (`upi`, `kh_bank[3]`).
    pub name: String,
    /// Its servers.
    pub servers: u32,
    /// What it is sized for, and the shortest wait behind it.
    pub sizing: Sizing,
    /// Its occupancy over the run (every message: requests and the rest).
    pub occupancy: Occupancy,
    /// Messages other than new requests it served (answers, inquiries, advices and their
    /// answers), included in `occupancy.served_count`; those passing a zero-time node count
    /// here but take no server.
    pub others_served_count: u64,
    /// New requests its admission control turned away: for their sender's rate, and for its
    /// concurrency.
    pub throttled: Throttled,
    /// Its own deadline and circuit breaker, as a node relaying requests.
    pub relay: RelayCounts,
    /// At the end of each simulated minute.
    pub minutes: Vec<NodeMinute>,
}

/// New requests a node's admission control turned away.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Throttled {
    /// Over their sender's rate.
    pub rate_count: u64,
    /// Over their sender's concurrency.
    pub concurrency_count: u64,
}

/// What a relaying node's deadline and breaker did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayCounts {
    /// Requests it forwarded whose answer missed its deadline (it answered upstream itself).
    pub deadlines_missed_count: u64,
    /// Times a breaker of its opened.
    pub breaker_opened_count: u64,
    /// Requests it declined at once because the breaker toward their next hop was open.
    pub breaker_refused_count: u64,
}

/// What a node is sized for, and the shortest wait behind it: together they say whether its
/// queue can hold work longer than anyone waits for it (dead work).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sizing {
    /// New requests waiting at most: the queue's limit, or, with a concurrency cap per
    /// sender, the senders times the cap when that is fewer.
    pub queue_max: u32,
    /// A new request's mean service time, ns.
    pub service_ns_mean: f64,
    /// The shortest timeout of whoever waits for the requests it serves (the originator's;
    /// at an originator, the payer's app's), ns; `None` when no flow crosses it.
    pub timeout_ns_behind: Option<u64>,
}

/// A node's utilisation: busy servers as a percentage of its servers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Utilisation {
    /// Over the whole run, drain included (which hides saturation).
    pub pct_mean: f64,
    /// In its busiest simulated minute.
    pub pct_peak_minute: f64,
    /// That minute, from the start of the run.
    pub peak_minute: usize,
}

impl NodeStats {
    /// Its utilisation over a run of `run_ns` nanoseconds, and in its busiest minute.
    pub fn utilisation(&self, run_ns: u128) -> Utilisation {
        let capacity = |ns: u128| ns as f64 * f64::from(self.servers.max(1));
        let pct_mean = self.occupancy.busy_ns as f64 / capacity(run_ns.max(1)) * 100.0;
        let (mut before, mut peak, mut at) = (NodeMinute::default(), 0.0_f64, 0);
        for (m, cell) in self.minutes.iter().enumerate() {
            let pct = (cell.busy_ns - before.busy_ns) as f64 / capacity(60_000_000_000) * 100.0;
            if pct > peak {
                (peak, at) = (pct, m);
            }
            before = *cell;
        }
        Utilisation { pct_mean, pct_peak_minute: peak, peak_minute: at }
    }

    /// The longest a new request can wait in a full queue, ns: the queue's length times the
    /// mean service time, over the servers.
    pub fn queue_wait_ns_worst(&self) -> f64 {
        f64::from(self.sizing.queue_max) * self.sizing.service_ns_mean
            / f64::from(self.servers.max(1))
    }

    /// The shortest timeout behind the node less its worst queueing delay, ns: negative when a
    /// full queue holds requests past their originator's timeout.
    pub fn margin_ns(&self) -> Option<f64> {
        self.sizing.timeout_ns_behind.map(|t| t as f64 - self.queue_wait_ns_worst())
    }

    /// The running totals at the end, as a minute snapshot.
    pub fn totals(&self) -> NodeMinute {
        let o = &self.occupancy;
        NodeMinute {
            queue_len_max: u32::try_from(o.queue_len_max).unwrap_or(u32::MAX),
            busy_ns: o.busy_ns,
            in_system_ns: o.in_system_ns,
            served_count: o.served_count,
            discarded_count: o.discarded_count,
            sojourn_ns: o.sojourn_ns,
        }
    }
}

/// A node at the end of one simulated minute: the longest queue in the minute, and the running
/// totals (differences between minutes give per-minute figures).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeMinute {
    /// Longest queue during the minute.
    pub queue_len_max: u32,
    /// ∫ busy servers dt so far, server-ns.
    pub busy_ns: u128,
    /// ∫ requests in the node dt so far, request-ns.
    pub in_system_ns: u128,
    /// Requests served so far.
    pub served_count: u64,
    /// Requests discarded unserved so far (dead work).
    pub discarded_count: u64,
    /// Σ time in the node of the requests served or discarded so far, ns.
    pub sojourn_ns: u128,
}
