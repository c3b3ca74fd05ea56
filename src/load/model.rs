//! The model check: does the simulator, given the service times measured on the real server,
//! predict the latency the load test measured, and where the server saturates?
//!
//! The server is modelled as what limits it on one machine: its processors. Every payment
//! costs CPU (the server's, and the load generator's on the same cores), measured as the
//! processes' CPU time over the run divided by the payments; the scenario's network is then
//! run by `sim run` with the Bakong switch as `c` servers (the runtime's worker threads) of
//! that service time, exponential, every emulated far side and link taking no time (the
//! server ran with `--no-far-delays`), and the journal's group-commit wait on the payer's
//! link: a payment waits for three commits (its acceptance, the switch's booking and its
//! outcome), over the two crossings of that link, so each crossing carries one and a half
//! of the measured waits. Times are scaled into scenario time by the run's speed-up, so the
//! utilisation is the measured one.
//!
//! Nothing here reads a clock; the one file read is the process's own CPU time. The caller
//! scrapes `/metrics` before and after the run and runs the simulator.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::generate::{Measured, percentiles_ms};
use crate::record::RunRecord;

/// What the check accepts: p50 and p99 within this share of the measured (below the knee).
pub const LATENCY_TOLERANCE: f64 = 0.15;

/// What the server's `/metrics` said, before or after the run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Scrape {
    /// `process_cpu_seconds_total`.
    pub cpu_s: f64,
    /// Payments final (`bakong_payments_total`, summed).
    pub payments: f64,
    /// `bakong_worker_threads`.
    pub workers: f64,
    /// The journal wait's median and 99th percentile, seconds.
    pub journal_wait_s: [f64; 2],
}

impl Scrape {
    /// Reads the figures from a Prometheus text exposition.
    ///
    /// # Errors
    /// The name of a figure that is missing.
    pub fn parse(text: &str) -> Result<Scrape, String> {
        let mut sums: BTreeMap<&str, f64> = BTreeMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((key, value)) = line.rsplit_once(' ') else { continue };
            let Ok(v) = value.parse::<f64>() else { continue };
            let name = key.split('{').next().unwrap_or(key);
            let name = match key {
                k if k.contains("quantile=\"0.5\"") => "wait_p50",
                k if k.contains("quantile=\"0.99\"") => "wait_p99",
                _ => name,
            };
            *sums.entry(name).or_default() += v;
        }
        let get = |name: &str| sums.get(name).copied().ok_or(format!("{name} is not in /metrics"));
        Ok(Scrape {
            cpu_s: get("process_cpu_seconds_total")?,
            payments: get("bakong_payments_total").unwrap_or(0.0),
            workers: get("bakong_worker_threads")?,
            journal_wait_s: [get("wait_p50")?, get("wait_p99")?],
        })
    }
}

/// The model's inputs, from two scrapes and the generator's own CPU time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Inputs {
    /// Payments final during the run.
    pub payments: f64,
    /// The server's CPU seconds during the run.
    pub server_cpu_s: f64,
    /// The load generator's CPU seconds during the run.
    pub generator_cpu_s: f64,
    /// Servers of the model: the runtime's worker threads.
    pub servers: u32,
    /// The journal wait's median and 99th percentile, ms (real time).
    pub journal_wait_ms: [f64; 2],
    /// Scenario time per real time.
    pub speedup: f64,
}

impl Inputs {
    /// The inputs of a run.
    ///
    /// # Errors
    /// When the run finished no payments.
    pub fn new(
        before: &Scrape,
        after: &Scrape,
        generator_cpu_s: f64,
        speedup: f64,
    ) -> Result<Inputs, String> {
        let payments = after.payments - before.payments;
        if payments < 1.0 {
            return Err("no payment finished during the run".into());
        }
        Ok(Inputs {
            payments,
            server_cpu_s: after.cpu_s - before.cpu_s,
            generator_cpu_s,
            servers: (after.workers.round() as u32).max(1),
            journal_wait_ms: after.journal_wait_s.map(|s| s * 1e3),
            speedup,
        })
    }

    /// CPU per payment, ms of real time: the server's and the generator's (they share the
    /// machine's processors).
    pub fn service_ms(&self) -> f64 {
        (self.server_cpu_s + self.generator_cpu_s) / self.payments * 1e3
    }

    /// The rate at which the model's servers are all busy, payments per real second.
    pub fn saturation_per_s(&self) -> f64 {
        f64::from(self.servers) / (self.service_ms() / 1e3)
    }

    /// The `--set` arguments that make the scenario the model (times in scenario time).
    pub fn overrides(&self, start: &str, hours: u32, multiplier: f64) -> Vec<String> {
        let x = self.speedup;
        let zero = r#"{ servers = 10000, queue_max = 0, service = { dist = "constant", ms = 0 } }"#;
        let mut set: Vec<String> = ["cn_issuer", "upi", "bakong_gateway", "kh_bank", "cn_acquirer"]
            .iter()
            .map(|n| format!("nodes.{n}={zero}"))
            .collect();
        set.push(format!(
            r#"nodes.bakong_switch={{ servers = {}, queue_max = 10000000, service = {{ dist = "exponential", mean_ms = {:.6} }}, other_service = {{ dist = "constant", ms = 0 }} }}"#,
            self.servers,
            self.service_ms() * x
        ));
        for link in ["cn_backbone", "wan", "kh_backbone", "merchant_notify"] {
            set.push(format!(r#"links.{link}={{ latency = {{ dist = "constant", ms = 0 }} }}"#));
        }
        let [p50, p99] = self.journal_wait_ms.map(|ms| ms * 1.5 * x);
        // A lognormal needs p99 above p50.
        set.push(format!(
            "links.payer_app={{ latency_ms = [{p50:.6}, {:.6}] }}",
            p99.max(p50 * 1.01)
        ));
        set.push(format!("meta.start={start}"));
        set.push(format!("meta.duration_hours={hours}"));
        set.push(format!("load.multiplier={multiplier}"));
        set
    }
}

/// The process's user and system CPU time, seconds, from `/proc/self/stat` (fields 14 and 15,
/// in the kernel's fixed 100 ticks a second); `None` where there is no such file.
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces: count from the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
}

/// One flow's comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowCheck {
    /// The flow.
    pub flow: String,
    /// Measured p50 and p99, ms.
    pub measured_ms: [f64; 2],
    /// Predicted p50 and p99, ms of real time.
    pub predicted_ms: [f64; 2],
}

impl FlowCheck {
    /// The relative errors of p50 and p99.
    pub fn errors(&self) -> [f64; 2] {
        [0, 1].map(|i| (self.predicted_ms[i] - self.measured_ms[i]) / self.measured_ms[i].max(1e-9))
    }

    /// Whether both are within [`LATENCY_TOLERANCE`].
    pub fn within(&self) -> bool {
        self.errors().iter().all(|e| e.abs() <= LATENCY_TOLERANCE)
    }
}

/// The comparison per flow the load test and the model both have.
pub fn compare(measured: &Measured, record: &RunRecord, speedup: f64) -> Vec<FlowCheck> {
    let mut out = Vec::new();
    for f in &record.flows {
        let Some(h) = measured.latency_us_by_flow.get(&f.flow) else { continue };
        if f.latency_answered.is_empty() || h.is_empty() {
            continue;
        }
        let m = percentiles_ms(h);
        let q = |p: f64| f.latency_answered.value_at_quantile(p) as f64 / 1e3 / speedup;
        out.push(FlowCheck {
            flow: f.flow.name().into(),
            measured_ms: [m["p50"], m["p99"]],
            predicted_ms: [q(0.5), q(0.99)],
        });
    }
    out
}

/// `model-check.md`.
pub fn markdown(
    inputs: &Inputs,
    offered_per_s: f64,
    checks: &[FlowCheck],
    command: &str,
) -> String {
    let mut md = String::from("# Model check\n\n");
    let rho = offered_per_s / inputs.saturation_per_s();
    let _ = writeln!(
        md,
        "Does `sim run`, given the service times measured here, predict the latency measured here? \
         The server is modelled by what limits it on one machine, its processors: the Bakong switch \
         as {} servers (the server's worker threads) of exponential service with the CPU a payment \
         cost (the server's and the load generator's, which share the cores), the journal's \
         group-commit wait on the payer's link (three waits per payment over two crossings), and \
         every emulated far side and link taking no time (the server ran with `--no-far-delays`). \
         Times are in scenario time, the measured ones times the speed-up ({}).\n",
        inputs.servers, inputs.speedup
    );
    let _ = writeln!(md, "## Measured inputs\n");
    let _ = writeln!(md, "| input | value |\n|---|---:|");
    let _ = writeln!(md, "| payments finished | {:.0} |", inputs.payments);
    let _ = writeln!(md, "| server CPU | {:.2} s |", inputs.server_cpu_s);
    let _ = writeln!(md, "| load generator CPU | {:.2} s |", inputs.generator_cpu_s);
    let _ = writeln!(md, "| CPU per payment (the service time) | {:.3} ms |", inputs.service_ms());
    let _ = writeln!(md, "| servers (worker threads) | {} |", inputs.servers);
    let _ = writeln!(
        md,
        "| journal wait p50 / p99 | {:.3} / {:.3} ms |",
        inputs.journal_wait_ms[0], inputs.journal_wait_ms[1]
    );
    let _ = writeln!(md, "| offered rate | {offered_per_s:.0} /s |");
    let _ = writeln!(
        md,
        "| predicted saturation (servers / service time) | {:.0} /s |",
        inputs.saturation_per_s()
    );
    let _ = writeln!(md, "| utilisation at the offered rate | {:.1} % |\n", rho * 100.0);
    let _ = writeln!(md, "## Latency, measured against predicted\n");
    let _ = writeln!(
        md,
        "| flow | p50 measured | p50 predicted | error | p99 measured | p99 predicted | error | within {:.0} % |\n|---|---:|---:|---:|---:|---:|---:|---|",
        LATENCY_TOLERANCE * 100.0
    );
    for c in checks {
        let e = c.errors();
        let _ = writeln!(
            md,
            "| {} | {:.2} ms | {:.2} ms | {:+.1} % | {:.2} ms | {:.2} ms | {:+.1} % | {} |",
            c.flow,
            c.measured_ms[0],
            c.predicted_ms[0],
            e[0] * 100.0,
            c.measured_ms[1],
            c.predicted_ms[1],
            e[1] * 100.0,
            if c.within() { "yes" } else { "no" }
        );
    }
    let _ = writeln!(
        md,
        "\nThe knee is checked across runs at several rates (`benches/model-check.sh`): the \
         predicted saturation against the highest rate the server kept up with.\n\n\
         Reproduce the prediction with:\n\n```sh\n{command}\n```"
    );
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    const METRICS: &str = "# TYPE x counter\n\
        bakong_payments_total{flow=\"domestic\",outcome=\"approved\"} 90\n\
        bakong_payments_total{flow=\"inward\",outcome=\"approved\"} 10\n\
        bakong_journal_wait_seconds{quantile=\"0.5\"} 0.002\n\
        bakong_journal_wait_seconds{quantile=\"0.9\"} 0.003\n\
        bakong_journal_wait_seconds{quantile=\"0.99\"} 0.004\n\
        bakong_worker_threads 2\n\
        process_cpu_seconds_total 1.5\n";

    #[test]
    fn a_scrape_reads_the_figures_and_names_a_missing_one() {
        let s = Scrape::parse(METRICS).expect("parses");
        assert_eq!(
            s,
            Scrape { cpu_s: 1.5, payments: 100.0, workers: 2.0, journal_wait_s: [0.002, 0.004] }
        );
        let e = Scrape::parse(&METRICS.replace("process_cpu", "other")).expect_err("missing");
        assert!(e.contains("process_cpu_seconds_total"), "{e}");
    }

    #[test]
    fn the_service_time_is_the_cpu_per_payment_and_saturation_follows() {
        let before = Scrape { cpu_s: 1.0, payments: 100.0, workers: 2.0, journal_wait_s: [0.0; 2] };
        let after =
            Scrape { cpu_s: 3.0, payments: 10_100.0, workers: 2.0, journal_wait_s: [0.002, 0.004] };
        let i = Inputs::new(&before, &after, 1.0, 10.0).expect("payments");
        assert!((i.service_ms() - 0.3).abs() < 1e-12, "{}", i.service_ms());
        assert!((i.saturation_per_s() - 2.0 / 0.0003).abs() < 1e-6);
        let set = i.overrides("2026-02-16T20:00:00+07:00", 1, 3.0);
        assert!(
            set.iter().any(|s| s.contains("servers = 2") && s.contains("mean_ms = 3.000000")),
            "{set:?}"
        );
        assert!(
            set.iter().any(|s| s == "links.payer_app={ latency_ms = [30.000000, 60.000000] }"),
            "{set:?}"
        );
        assert!(Inputs::new(&after, &after, 1.0, 10.0).is_err(), "no payments, no model");
    }
}
