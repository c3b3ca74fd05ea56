//! `sim load`: an open-loop load generator for the payer API.
//!
//! Every request has an intended send time from its schedule (a fixed rate, or the scenario's
//! arrival process), and is sent at that time whether or not earlier ones have been answered:
//! the scheduler never waits for an answer. A request's latency counts from its intended time,
//! the timestamp the schedule carries, not a clock read after the scheduler woke, so a stalled
//! server shows as the stall it is (coordinated omission corrected, as wrk2 does). The service
//! time (from the moment a connection sent it) and the generator's lag (from the intended time
//! to that moment) are kept apart. Requests that would take the number waiting or in flight
//! past the cap are not sent, and counted as dropped.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc};

use crate::payments::party::Flow;
use crate::record::measured::MeasuredSeries;

/// The longest run, real seconds.
pub const DURATION_S_MAX: u64 = 24 * 3600;

/// The most connections.
pub const CONNECTIONS_MAX: usize = 10_000;

/// The largest answer body read.
pub const ANSWER_BYTES_MAX: usize = 64 * 1024;

/// One request of the schedule.
#[derive(Clone, Debug)]
pub struct Planned {
    /// Its intended send time, from the start of the run.
    pub at: Duration,
    /// The bearer token of its originator.
    pub token: Arc<str>,
    /// The JSON body.
    pub body: Bytes,
    /// Its flow, when known.
    pub flow: Option<Flow>,
}

/// A schedule: the requests in order of intended time.
pub trait Schedule: Send {
    /// The next request, or `None` at the end.
    fn next(&mut self) -> Option<Planned>;
}

/// One request template at a fixed rate: request `n` is due at `n / rate`; its idempotency key
/// is made unique by replacing `{n}` in the template.
pub struct FixedRate {
    /// Requests per second.
    pub rate_per_s: f64,
    /// How long.
    pub duration: Duration,
    /// The body, with `{n}` where the request's number goes.
    pub template: String,
    /// The bearer token.
    pub token: Arc<str>,
    /// The next request's number.
    pub n: u64,
}

impl Schedule for FixedRate {
    fn next(&mut self) -> Option<Planned> {
        let at = Duration::from_secs_f64(self.n as f64 / self.rate_per_s);
        if at >= self.duration {
            return None;
        }
        let body = Bytes::from(self.template.replace("{n}", &self.n.to_string()));
        self.n += 1;
        Some(Planned { at, token: self.token.clone(), body, flow: None })
    }
}

/// What the answers said.
#[derive(Debug)]
pub struct Measured {
    /// From the intended send time to the answer, µs.
    pub latency_us: hdrhistogram::Histogram<u64>,
    /// From the moment a connection sent the request to the answer, µs (what a closed-loop
    /// tool reports).
    pub service_us: hdrhistogram::Histogram<u64>,
    /// From the intended send time to the moment a connection sent it, µs.
    pub lag_us: hdrhistogram::Histogram<u64>,
    /// Corrected latency per flow, µs.
    pub latency_us_by_flow: BTreeMap<Flow, hdrhistogram::Histogram<u64>>,
    /// Requests sent.
    pub sent: u64,
    /// Requests not sent: the cap on requests waiting or in flight was reached.
    pub dropped: u64,
    /// Requests that got no HTTP answer (connection errors).
    pub failed: u64,
    /// Answers by HTTP status and payment status (`200 approved`, `202 pending`, `400`, ...).
    pub answers: BTreeMap<String, u64>,
    /// Payments per flow and outcome (`approved`, `declined:insufficient_balance`, ...).
    pub outcomes: BTreeMap<(Flow, String), u64>,
    /// From the first intended time to the last answer.
    pub elapsed: Duration,
    /// The schedule's last intended time.
    pub scheduled: Duration,
    /// Requests due, answers and latency per interval of the run.
    pub series: MeasuredSeries,
}

impl Measured {
    /// Counts one answer: its latency from the intended time, service time and lag.
    fn record(&mut self, a: Answer, start: Instant) {
        let m = self;
        let intended = start + a.planned_at;
        m.latency_us.saturating_record(micros(a.done_at.saturating_duration_since(intended)));
        m.service_us.saturating_record(micros(a.done_at.saturating_duration_since(a.sent_at)));
        m.lag_us.saturating_record(micros(a.sent_at.saturating_duration_since(intended)));
        m.elapsed = m.elapsed.max(a.done_at.saturating_duration_since(start));
        m.series.at(micros(a.planned_at)).due_count += 1;
        let done = m.series.at(micros(a.done_at.saturating_duration_since(start)));
        let Ok((code, body)) = a.answer else {
            done.failed_count += 1;
            m.failed += 1;
            return;
        };
        done.answered_count += 1;
        done.latency_us
            .get_or_insert_with(|| {
                hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 2).expect("valid bounds")
            })
            .saturating_record(micros(a.done_at.saturating_duration_since(intended)));
        let status = serde_json::from_slice::<serde_json::Value>(&body).ok();
        let field = |k: &str| {
            status.as_ref().and_then(|v| v.get(k)).and_then(|s| s.as_str()).map(str::to_string)
        };
        let (payment, class) = (field("status"), field("decline_class"));
        let key = match &payment {
            Some(p) => format!("{code} {p}"),
            None => code.to_string(),
        };
        *m.answers.entry(key).or_default() += 1;
        if let (Some(flow), Some(p)) = (a.flow, payment) {
            let outcome = class.map_or(p.clone(), |c| format!("{p}:{c}"));
            *m.outcomes.entry((flow, outcome)).or_default() += 1;
            let latency = micros(a.done_at.saturating_duration_since(intended));
            m.latency_us_by_flow.entry(flow).or_insert_with(histogram).saturating_record(latency);
        }
    }
}

fn histogram() -> hdrhistogram::Histogram<u64> {
    hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds")
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// Progress once a second: requests sent and answered so far, and the seconds of schedule done.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Sent so far.
    pub sent: u64,
    /// Answered so far.
    pub answered: u64,
    /// Dropped so far.
    pub dropped: u64,
    /// Schedule time reached.
    pub at: Duration,
}

struct Answer {
    planned_at: Duration,
    sent_at: Instant,
    done_at: Instant,
    flow: Option<Flow>,
    answer: Result<(u16, Bytes), ()>,
}

/// Why the generator could not run.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A bad target.
    #[error("--target {0}: an http://HOST:PORT address")]
    Target(String),
    /// No connection could be opened.
    #[error("connecting to {target}: {source}")]
    Connect {
        /// The target.
        target: String,
        /// Why.
        source: std::io::Error,
    },
}

/// The target's socket address, from `http://HOST:PORT`.
pub fn target_addr(target: &str) -> Result<std::net::SocketAddr, LoadError> {
    let rest = target.strip_prefix("http://").ok_or_else(|| LoadError::Target(target.into()))?;
    let host = rest.trim_end_matches('/');
    use std::net::ToSocketAddrs;
    host.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| LoadError::Target(target.into()))
}

async fn connection(
    addr: std::net::SocketAddr,
    host: Arc<str>,
    work: Arc<Mutex<mpsc::Receiver<(Planned, Instant)>>>,
    answers: mpsc::UnboundedSender<Answer>,
) {
    let mut sender: Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>> = None;
    loop {
        let next = work.lock().await.recv().await;
        let Some((planned, start)) = next else { return };
        if sender.as_ref().is_none_or(|s| s.is_closed()) {
            sender = match TcpStream::connect(addr).await {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    match hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(
                        stream,
                    ))
                    .await
                    {
                        Ok((s, conn)) => {
                            tokio::spawn(conn);
                            Some(s)
                        }
                        Err(_) => None,
                    }
                }
                Err(_) => None,
            };
        }
        let sent_at = Instant::now();
        let answer = match sender.as_mut() {
            None => Err(()),
            Some(s) => {
                let req = Request::post("/v1/payments")
                    .header("host", &*host)
                    .header("content-type", "application/json")
                    .header("authorization", format!("Bearer {}", planned.token))
                    .body(Full::new(planned.body.clone()))
                    .expect("a valid request");
                match s.send_request(req).await {
                    Ok(resp) => {
                        let code = resp.status().as_u16();
                        match http_body_util::Limited::new(resp.into_body(), ANSWER_BYTES_MAX)
                            .collect()
                            .await
                        {
                            Ok(b) => Ok((code, b.to_bytes())),
                            Err(_) => Err(()),
                        }
                    }
                    Err(_) => {
                        sender = None;
                        Err(())
                    }
                }
            }
        };
        let _ = start;
        let done_at = Instant::now();
        if answers
            .send(Answer { planned_at: planned.at, sent_at, done_at, flow: planned.flow, answer })
            .is_err()
        {
            return;
        }
    }
}

/// Runs `schedule` against `target` on `connections` connections, at most `in_flight_max`
/// requests waiting or in flight.
///
/// # Errors
/// [`LoadError`] for a bad target.
pub async fn run(
    target: &str,
    connections: usize,
    in_flight_max: usize,
    mut schedule: Box<dyn Schedule>,
    series: MeasuredSeries,
    mut progress: impl FnMut(Progress) + Send,
) -> Result<Measured, LoadError> {
    let addr = target_addr(target)?;
    TcpStream::connect(addr)
        .await
        .map_err(|source| LoadError::Connect { target: target.into(), source })?;
    let host: Arc<str> = Arc::from(addr.to_string());
    let (work_tx, work_rx) = mpsc::channel::<(Planned, Instant)>(in_flight_max.max(1));
    let work = Arc::new(Mutex::new(work_rx));
    let (answers_tx, mut answers_rx) = mpsc::unbounded_channel::<Answer>();
    for _ in 0..connections.clamp(1, CONNECTIONS_MAX) {
        tokio::spawn(connection(addr, host.clone(), work.clone(), answers_tx.clone()));
    }
    drop(answers_tx);
    let outstanding = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let scheduler = {
        let outstanding = outstanding.clone();
        // A thread of its own with the OS's sleep (tens of microseconds late), not a tokio
        // timer (whose 1 ms wheel would add up to a millisecond to every latency measured).
        tokio::task::spawn_blocking(move || {
            let (mut sent, mut dropped, mut last) = (0u64, 0u64, Duration::ZERO);
            while let Some(planned) = schedule.next() {
                last = planned.at;
                // The intended time is the schedule's, whenever this thread wakes.
                let due = start + planned.at;
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                if outstanding.load(Ordering::Relaxed) >= in_flight_max as u64 {
                    dropped += 1;
                    continue;
                }
                outstanding.fetch_add(1, Ordering::Relaxed);
                if work_tx.blocking_send((planned, start)).is_err() {
                    break;
                }
                sent += 1;
            }
            (sent, dropped, last)
        })
    };
    let mut m = Measured {
        latency_us: histogram(),
        service_us: histogram(),
        lag_us: histogram(),
        latency_us_by_flow: BTreeMap::new(),
        sent: 0,
        dropped: 0,
        failed: 0,
        answers: BTreeMap::new(),
        outcomes: BTreeMap::new(),
        elapsed: Duration::ZERO,
        scheduled: Duration::ZERO,
        series,
    };
    let mut answered = 0u64;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut scheduler = Some(scheduler);
    let mut total: Option<u64> = None;
    loop {
        if total.is_some_and(|t| answered >= t) {
            break;
        }
        tokio::select! {
            answer = answers_rx.recv() => {
                let Some(a) = answer else { break };
                outstanding.fetch_sub(1, Ordering::Relaxed);
                answered += 1;
                m.record(a, start);
            }
            _ = tick.tick() => {
                progress(Progress { sent: answered + outstanding.load(Ordering::Relaxed), answered, dropped: m.dropped, at: start.elapsed() });
            }
            done = async { scheduler.as_mut().expect("polled only while running").await }, if scheduler.is_some() => {
                scheduler = None;
                let (sent, dropped, last) = done.unwrap_or((0, 0, Duration::ZERO));
                (m.sent, m.dropped, m.scheduled) = (sent, dropped, last);
                total = Some(sent);
            }
        }
    }
    // The last answer can close the channel before `select!` has polled the finished
    // scheduler: its totals are taken here then, or the report would say nothing was sent.
    if let Some(scheduler) = scheduler {
        let (sent, dropped, last) = scheduler.await.unwrap_or((0, 0, Duration::ZERO));
        (m.sent, m.dropped, m.scheduled) = (sent, dropped, last);
    }
    progress(Progress { sent: m.sent, answered, dropped: m.dropped, at: start.elapsed() });
    Ok(m)
}

/// The summary of a measured run: percentiles in milliseconds.
pub fn percentiles_ms(h: &hdrhistogram::Histogram<u64>) -> BTreeMap<&'static str, f64> {
    let ms = |q: f64| if h.is_empty() { 0.0 } else { h.value_at_quantile(q) as f64 / 1000.0 };
    BTreeMap::from([
        ("p50", ms(0.5)),
        ("p90", ms(0.9)),
        ("p99", ms(0.99)),
        ("p99.9", ms(0.999)),
        ("max", if h.is_empty() { 0.0 } else { h.max() as f64 / 1000.0 }),
    ])
}

/// What a load report says about its run besides the measurements.
#[derive(Clone, Debug)]
pub struct ReportMeta {
    /// The scenario's name.
    pub scenario: String,
    /// Its seed.
    pub seed: u64,
    /// The target.
    pub target: String,
    /// The schedule, in words.
    pub mode: String,
    /// The run's name (its idempotency keys' prefix).
    pub run: String,
    /// Connections used.
    pub connections: usize,
}

const SPECTRUM: [f64; 12] =
    [0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999, 0.99999, 1.0];

/// The files of a load report: `summary.md`, `summary.json`, `latency.csv` (the percentile
/// spectrum of the corrected latency, the service time and the lag), `outcomes.csv`, and
/// `metrics.txt` (the server's `/metrics` at the end). Marked as measured, not simulated.
pub fn report_files(
    m: &Measured,
    meta: &ReportMeta,
    metrics: String,
) -> Vec<crate::report::ReportFile> {
    use std::fmt::Write;
    let (lat, svc, lag) =
        (percentiles_ms(&m.latency_us), percentiles_ms(&m.service_us), percentiles_ms(&m.lag_us));
    let secs = m.scheduled.as_secs_f64().max(1e-9);
    let answered: u64 = m.answers.values().sum();
    let json = serde_json::json!({
        "kind": "measured",
        "scenario": meta.scenario,
        "seed": meta.seed,
        "target": meta.target,
        "schedule": meta.mode,
        "run": meta.run,
        "connections": meta.connections,
        "sent": m.sent,
        "dropped": m.dropped,
        "failed": m.failed,
        "answered": answered,
        "scheduled_s": m.scheduled.as_secs_f64(),
        "elapsed_s": m.elapsed.as_secs_f64(),
        "intended_rate_per_s": (m.sent + m.dropped) as f64 / secs,
        "answered_rate_per_s": answered as f64 / m.elapsed.as_secs_f64().max(1e-9),
        "latency_ms": lat,
        "service_ms": svc,
        "lag_ms": lag,
        "answers": m.answers,
        "flows": m.latency_us_by_flow.iter().map(|(f, h)| (f.name().to_string(), percentiles_ms(h))).collect::<BTreeMap<_, _>>(),
        "outcomes": m.outcomes.iter().map(|((f, o), n)| (format!("{}:{o}", f.name()), *n)).collect::<BTreeMap<_, _>>(),
    });
    let md = summary_md(m, meta, [&lat, &svc, &lag], answered);
    let mut csv = String::from("quantile,latency_ms,service_ms,lag_ms\n");
    for q in SPECTRUM {
        let v = |h: &hdrhistogram::Histogram<u64>| {
            if h.is_empty() { 0.0 } else { h.value_at_quantile(q) as f64 / 1000.0 }
        };
        let _ = writeln!(
            csv,
            "{q},{:.3},{:.3},{:.3}",
            v(&m.latency_us),
            v(&m.service_us),
            v(&m.lag_us)
        );
    }
    let mut outcomes = String::from("flow,outcome,payments\n");
    for ((f, o), n) in &m.outcomes {
        let _ = writeln!(outcomes, "{},{o},{n}", f.name());
    }
    let file = |path: &str, text: String| crate::report::ReportFile {
        path: path.into(),
        bytes: text.into_bytes(),
    };
    vec![
        file("summary.md", md),
        file(
            "summary.json",
            format!("{}\n", serde_json::to_string_pretty(&json).unwrap_or_default()),
        ),
        file("latency.csv", csv),
        file("outcomes.csv", outcomes),
        file("metrics.txt", metrics),
    ]
}

fn summary_md(
    m: &Measured,
    meta: &ReportMeta,
    [lat, svc, lag]: [&BTreeMap<&'static str, f64>; 3],
    answered: u64,
) -> String {
    use std::fmt::Write;
    let secs = m.scheduled.as_secs_f64().max(1e-9);
    let mut md = String::new();
    let _ = writeln!(md, "# Load test: {} (measured)\n", meta.scenario);
    let _ = writeln!(
        md,
        "Target {}, {}, {} connections, run `{}`, scenario seed {}.\n",
        meta.target, meta.mode, meta.connections, meta.run, meta.seed
    );
    let _ = writeln!(
        md,
        "Sent {} requests over {:.1} s (intended {:.0}/s), {} answered, {} dropped at the in-flight cap, {} failed without an answer.\n",
        m.sent,
        m.scheduled.as_secs_f64(),
        (m.sent + m.dropped) as f64 / secs,
        answered,
        m.dropped,
        m.failed
    );
    let _ = writeln!(
        md,
        "Latency counts from each request's intended send time (coordinated omission corrected); the service time from when a connection sent it; the lag is the difference.\n"
    );
    let _ = writeln!(md, "| | p50 | p90 | p99 | p99.9 | max |\n|---|---:|---:|---:|---:|---:|");
    for (name, p) in
        [("latency (ms)", lat), ("service time (ms)", svc), ("generator lag (ms)", lag)]
    {
        let _ = writeln!(
            md,
            "| {name} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            p["p50"], p["p90"], p["p99"], p["p99.9"], p["max"]
        );
    }
    let _ = writeln!(md, "\n| answer | count |\n|---|---:|");
    for (k, n) in &m.answers {
        let _ = writeln!(md, "| {k} | {n} |");
    }
    md
}
