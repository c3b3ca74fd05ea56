//! `sim serve`: a scenario's network in one process on loopback sockets, the payer apps' HTTP
//! API in front ([`super::api`]), the durable journal behind the switch.
//!
//! Start-up: open the journal (refusing a file that is not ours), recover from it (statuses,
//! idempotency keys, the switch's settlement ledger rebuilt and its invariants checked; every
//! payment left open is settled from the switch's books: approved where it booked the far
//! side's approval, else reversed, its advice journaled and sent when the links are up),
//! start the switch's and UPI's listeners, sign every member on, then answer the API.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::api::{Api, MidRates};
use super::journal::{self, Booking, Entry, Journal, SettlementBook, Writer, WriterStats};
use super::link::{self, LinkShared};
use super::network::{Inbound, Member, Relay, Role, Setup, Shared, now, outcome_of};
use crate::payments::clearing::Rrn;
use crate::payments::network::iso8583::{
    InstitutionId, MacKey, PaymentFrame, Processing, TransmissionTime,
};
use crate::payments::network::originator::OriginatorPolicy;
use crate::payments::network::{Message, Mti, Outcome, Stan};
use crate::payments::party::Flow;
use crate::scenario::Scenario;
use crate::sim::network::Latency;
use crate::sim::world::config::{Config, FailureRates};

/// The participants' keys and the originators' API tokens.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// Each participant's link key, 64 hex digits, by name.
    pub keys: BTreeMap<String, String>,
    /// Each originator's bearer token, by name.
    pub tokens: BTreeMap<String, String>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The journal.
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
    /// A socket.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// A link's sign-on.
    #[error(transparent)]
    Link(#[from] link::LinkError),
    /// The key file.
    #[error("key file: {0}")]
    Keys(String),
    /// The journal's books do not balance.
    #[error("journal: the settlement ledger rebuilt from it breaks an invariant: {0}")]
    Ledger(String),
    /// A participant stopped while serving.
    #[error("the network stopped: {0}")]
    Stopped(String),
    /// An address that is not loopback, without `--allow-remote`.
    #[error(
        "{0} is not a loopback address; name it together with --allow-remote to serve beyond this machine"
    )]
    NotLoopback(SocketAddr),
}

/// What `sim serve` is told.
pub struct ServeOptions {
    /// The API's address.
    pub listen: SocketAddr,
    /// Whether a non-loopback address is allowed.
    pub allow_remote: bool,
    /// The journal's path.
    pub journal: std::path::PathBuf,
    /// Real time is emulated time divided by this.
    pub speedup: f64,
    /// Keys and tokens.
    pub keys: KeyFile,
    /// A new file to capture the first frames sent on the links into (hex, one per line).
    pub capture: Option<std::fs::File>,
    /// Whether the emulated far sides take the scenario's time (off: they answer at once, so
    /// that the latency measured is the server's own, as the model check wants).
    pub far_delays: bool,
    /// How often each link's signing-on side sends an echo (real time).
    pub echo_every: Duration,
}

/// Every participant of a scenario's network.
pub fn roles(s: &Scenario) -> Vec<Role> {
    let banks = u16::try_from(s.population.bank_shares_pct.len()).expect("at most 64");
    let issuers = u16::try_from(s.population.cn_issuer_shares_pct.len()).expect("at most 64");
    let acquirers = u16::try_from(crate::scenario::topology::CN_ACQUIRERS_COUNT).expect("2");
    let mut out = vec![Role::Switch, Role::Upi];
    out.extend((0..banks).map(Role::KhBank));
    out.extend((0..issuers).map(Role::CnIssuer));
    out.extend((0..acquirers).map(Role::CnAcquirer));
    out
}

/// Whether a role originates payments for payers (and so has an API token).
pub fn originates(role: Role) -> bool {
    matches!(role, Role::KhBank(_) | Role::CnIssuer(_))
}

fn far_delays(cfg: &Config, role: Role) -> Vec<Latency> {
    let node = |name: &str| cfg.nodes.iter().find(|n| n.name == name).map(|n| n.service.clone());
    let link =
        |name: &str| cfg.links.iter().find(|l| l.name == name).map(|l| l.link.latency.clone());
    let (n, l) = match role {
        Role::KhBank(_) => (node("kh_bank"), link("kh_backbone")),
        Role::CnAcquirer(_) => (node("cn_acquirer"), link("cn_backbone")),
        Role::CnIssuer(_) => (node("cn_issuer"), link("cn_backbone")),
        _ => (None, None),
    };
    let mut out: Vec<Latency> = n.into_iter().collect();
    if let Some(l) = l {
        out.push(l.clone());
        out.push(l);
    }
    out
}

fn deadline(cfg: &Config, node: &str, default: Duration) -> Duration {
    cfg.nodes
        .iter()
        .find(|n| n.name == node)
        .and_then(|n| n.deadline)
        .map_or(default, |d| Duration::from_nanos(d.as_nanos()))
}

fn is_loopback(addr: SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// A running server: the API's address and the handle that ends it.
pub struct Running {
    /// Where the API listens.
    pub api: SocketAddr,
    /// Payments found open in the journal that the switch had booked, approved at start-up.
    pub recovered_approved: usize,
    /// Payments found open in the journal and reversed at start-up.
    pub recovered_reversed: usize,
}

/// Starts the network and the API, and serves until `stop` resolves: the participants' keys
/// and tokens, recovery from the journal, the participants' tasks, their links, and the API.
///
/// # Errors
/// [`ServeError`] when it cannot start.
pub async fn serve(
    scenario: &Scenario,
    options: ServeOptions,
    started: impl FnOnce(&Running),
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), ServeError> {
    if !options.allow_remote && !is_loopback(options.listen) {
        return Err(ServeError::NotLoopback(options.listen));
    }
    let cfg = Config::new(scenario, scenario.meta.seed);
    let all = roles(scenario);
    let Credentials { keys, tokens } = credentials(&all, &options.keys)?;
    let mut restart = recover(Journal::open(&options.journal)?)?;
    let refusals = Arc::new(LinkShared::default());
    if let Some(file) = options.capture {
        *refusals.capture.lock().expect("not yet shared") = Some((file, 0));
    }
    let timing = Timing {
        speedup: options.speedup,
        seed: scenario.meta.seed,
        far_delays: options.far_delays,
    };
    let (mut tasks, inboxes) = participants(&cfg, &all, timing, &mut restart);
    links(&all, &keys, &inboxes, &refusals, options.echo_every).await?;

    let api = Arc::new(Api {
        tokens,
        inboxes,
        shared: restart.shared,
        refusals,
        writer_stats: restart.writer_stats,
        idempotency: std::sync::Mutex::new(restart.idempotency),
        next_id: std::sync::atomic::AtomicU64::new(restart.next_id),
        in_flight: std::sync::atomic::AtomicUsize::new(0),
        rates: MidRates {
            khr_per_cny: cfg.usd_khr / cfg.usd_cny,
            usd_per_cny: rust_decimal::Decimal::ONE / cfg.usd_cny,
        },
    });
    let io = |what: &str| {
        let what = what.to_string();
        move |source| ServeError::Io { what, source }
    };
    let listener =
        TcpListener::bind(options.listen).await.map_err(io("binding the API's address"))?;
    let api_addr = listener.local_addr().map_err(io("the API's address"))?;
    started(&Running {
        api: api_addr,
        recovered_approved: restart.approved,
        recovered_reversed: restart.reversed,
    });
    let accept = async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            let api = api.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let api = api.clone();
                    async move { Ok::<_, std::convert::Infallible>(api.handle(req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    };
    // A participant's task ends only if it failed (its inbox never closes while serving): then
    // the network is not whole, and the server stops rather than answer for it.
    tokio::select! {
        () = accept => Ok(()),
        () = stop => Ok(()),
        ended = tasks.join_next() => Err(ServeError::Stopped(match ended {
            Some(Err(e)) if e.is_panic() => "a participant's task panicked (its message is above)".into(),
            _ => "a participant's task ended".into(),
        })),
    }
}

/// Each participant's link key, and the originators by API token.
struct Credentials {
    keys: BTreeMap<Role, MacKey>,
    tokens: BTreeMap<String, Role>,
}

/// The key file's keys and tokens for every participant, or what is missing or too weak.
fn credentials(all: &[Role], file: &KeyFile) -> Result<Credentials, ServeError> {
    let mut keys = BTreeMap::new();
    for role in all {
        let name = role.name();
        let hex =
            file.keys.get(&name).ok_or_else(|| ServeError::Keys(format!("no key for {name}")))?;
        let key = MacKey::from_hex(hex)
            .ok_or_else(|| ServeError::Keys(format!("the key of {name} is not 64 hex digits")))?;
        keys.insert(*role, key);
    }
    let mut tokens = BTreeMap::new();
    for role in all.iter().copied().filter(|r| originates(*r)) {
        let name = role.name();
        let token = file
            .tokens
            .get(&name)
            .ok_or_else(|| ServeError::Keys(format!("no API token for {name}")))?;
        if token.len() < 16 {
            return Err(ServeError::Keys(format!(
                "the API token of {name} is shorter than 16 characters"
            )));
        }
        tokens.insert(token.clone(), role);
    }
    Ok(Credentials { keys, tokens })
}

/// What the server starts from: the journal's state after recovery, and its writer.
struct Restart {
    /// The switch's settlement ledger, rebuilt and checked.
    book: SettlementBook,
    /// The next booking's transfer id.
    next_transfer: u64,
    /// The switch's bookings of payments still open, by payment.
    booked: BTreeMap<u64, Booking>,
    /// Statuses and counters of the payments so far.
    shared: Arc<Shared>,
    /// Idempotency keys seen, by originator: the payment and its request's digest.
    idempotency: BTreeMap<(String, String), (u64, String)>,
    /// The next payment's number.
    next_id: u64,
    /// Payments whose reversal advice is to be sent (again).
    advices: Vec<journal::RecoveredPayment>,
    /// Payments found open that the switch had booked: approved.
    approved: usize,
    /// Payments found open and reversed.
    reversed: usize,
    writer: Writer,
    writer_stats: Arc<WriterStats>,
}

/// Recovery: the ledger rebuilt from the journal's bookings and checked; every payment left
/// open by a crash settled as an inquiry would settle it ([`settle_open`]: approved where the
/// switch booked it, else reversed and advised); unacknowledged advices queued to go again.
fn recover(journal: Journal) -> Result<Restart, ServeError> {
    let recovered = journal.recover()?;
    let mut book = SettlementBook::default();
    for b in &recovered.bookings {
        book.apply(b, now())
            .map_err(|e| ServeError::Ledger(format!("booking {}: {e:?}", b.transfer.0)))?;
    }
    book.check().map_err(|e| ServeError::Ledger(format!("{e:?}")))?;
    let next_transfer = recovered.bookings.iter().map(|b| b.transfer.0 + 1).max().unwrap_or(1);
    let mut booked: BTreeMap<u64, Booking> = BTreeMap::new();
    for b in &recovered.bookings {
        if b.reversal {
            booked.remove(&b.payment);
        } else {
            booked.insert(b.payment, *b);
        }
    }
    let shared = Arc::new(Shared::default());
    let mut idempotency = BTreeMap::new();
    let mut open = Vec::new();
    for p in &recovered.payments {
        idempotency.insert(
            (p.originator.clone(), p.idempotency_key.clone()),
            (p.id, p.request_sha256.clone()),
        );
        match p.outcome.as_deref() {
            Some(outcome) => {
                shared.finish(p.id, p.flow, outcome_of(outcome, p.decline.as_deref()), None);
            }
            None => open.push(p.clone()),
        }
    }
    let next_id = recovered.payments.last().map_or(1, |p| p.id + 1);
    let writer_stats = Arc::new(WriterStats::default());
    let writer = Writer::start(journal, writer_stats.clone());

    let (entries, mut advices) = settle_open(&open, &booked, &shared);
    let reversed = advices.len();
    for id in &recovered.reversals_open {
        if let Some(p) = recovered.payments.iter().find(|p| p.id == *id)
            && !advices.iter().any(|q| q.id == *id)
        {
            advices.push(p.clone());
        }
    }
    if !entries.is_empty() {
        let (tx, rx) = std::sync::mpsc::channel();
        writer.submit(
            entries,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        )?;
        rx.recv()
            .map_err(|_| journal::JournalError::Stopped)?
            .map_err(|e| ServeError::Keys(format!("journal: {e}")))?;
    }
    Ok(Restart {
        book,
        next_transfer,
        booked,
        shared,
        idempotency,
        next_id,
        advices,
        approved: open.len() - reversed,
        reversed,
        writer,
        writer_stats,
    })
}

/// Payments left open by a crash, settled as an inquiry would settle them: one the switch
/// booked was approved by its far side (the switch books only an approval, before passing it
/// on), so it is final as approved, never acknowledged to a payer who got no answer; any
/// other had nothing booked to undo and is reversed: its advice goes to the far side, which
/// takes back a credit it made. Returns the journal entries and the payments to advise.
fn settle_open(
    open: &[journal::RecoveredPayment],
    booked: &BTreeMap<u64, Booking>,
    shared: &Shared,
) -> (Vec<Entry>, Vec<journal::RecoveredPayment>) {
    let (mut entries, mut reverse) = (Vec::new(), Vec::new());
    let t = now();
    for p in open {
        if booked.contains_key(&p.id) {
            entries.push(Entry::Final {
                payment: p.id,
                outcome: "approved".into(),
                decline: None,
                at: t,
                acknowledged: false,
            });
            shared.finish(p.id, p.flow, Outcome::Approved, None);
            continue;
        }
        entries.push(Entry::ReversalIntent { payment: p.id, at: t });
        entries.push(Entry::Final {
            payment: p.id,
            outcome: "reversed".into(),
            decline: None,
            at: t,
            acknowledged: false,
        });
        shared.finish(p.id, p.flow, Outcome::Reversed, None);
        reverse.push(p.clone());
    }
    (entries, reverse)
}

/// What every participant's timing follows.
#[derive(Clone, Copy)]
struct Timing {
    speedup: f64,
    seed: u64,
    far_delays: bool,
}

/// Every participant's task with its inbox: the switch (with the books, the journal and the
/// advices recovery left to send), UPI, and the members.
fn participants(
    cfg: &Config,
    all: &[Role],
    timing: Timing,
    restart: &mut Restart,
) -> (tokio::task::JoinSet<()>, BTreeMap<Role, mpsc::UnboundedSender<Inbound>>) {
    let backoff: Vec<Duration> =
        [1u64, 2, 4, 8, 16, 32, 60].iter().map(|s| Duration::from_secs(*s)).collect();
    let rates: Arc<BTreeMap<Flow, FailureRates>> =
        Arc::new(cfg.flows.iter().map(|f| (f.flow, f.failures)).collect());
    let policies: Arc<BTreeMap<Flow, OriginatorPolicy>> =
        Arc::new(cfg.flows.iter().map(|f| (f.flow, f.policy.clone())).collect());
    let setup = |role: Role, far: Vec<Latency>, dl: Duration| Setup {
        role,
        speedup: timing.speedup,
        far_delay: far,
        rates: rates.clone(),
        policies: policies.clone(),
        deadline: dl,
        seed: timing.seed,
        advice_backoff: backoff.clone(),
    };
    let mut tasks = tokio::task::JoinSet::new();
    let mut inboxes = BTreeMap::new();
    for &role in all {
        let (tx, rx) = mpsc::unbounded_channel();
        inboxes.insert(role, tx.clone());
        match role {
            Role::Switch => {
                let mut switch = Relay::new(
                    setup(role, Vec::new(), deadline(cfg, "bakong_switch", Duration::from_secs(8))),
                    Some((std::mem::take(&mut restart.book), restart.writer.clone())),
                    restart.next_transfer,
                    restart.booked.clone(),
                    restart.shared.clone(),
                );
                for p in &restart.advices {
                    let frame = recovery_advice(p);
                    let to = Role::of(frame_receiver(&frame))
                        .map_or(Role::Upi, |r| if r.on_the_switch() { r } else { Role::Upi });
                    switch.resume_advice(frame, to.institution());
                }
                tasks.spawn(switch.run(tx, rx));
            }
            Role::Upi => {
                let upi = Relay::new(
                    setup(role, Vec::new(), deadline(cfg, "upi", Duration::from_secs(12))),
                    None,
                    1,
                    BTreeMap::new(),
                    restart.shared.clone(),
                );
                tasks.spawn(upi.run(tx, rx));
            }
            _ => {
                let far = if timing.far_delays { far_delays(cfg, role) } else { Vec::new() };
                let member = Member::new(
                    setup(role, far, Duration::ZERO),
                    restart.writer.clone(),
                    restart.shared.clone(),
                );
                tasks.spawn(member.run(tx, rx));
            }
        }
    }
    (tasks, inboxes)
}

/// The links: the switch and UPI listen on loopback; members and the switch sign on.
async fn links(
    all: &[Role],
    keys: &BTreeMap<Role, MacKey>,
    inboxes: &BTreeMap<Role, mpsc::UnboundedSender<Inbound>>,
    refusals: &Arc<LinkShared>,
    echo_every: Duration,
) -> Result<(), ServeError> {
    let io = |what: &str| {
        let what = what.to_string();
        move |source| ServeError::Io { what, source }
    };
    let switch_listener =
        TcpListener::bind("127.0.0.1:0").await.map_err(io("binding the switch's listener"))?;
    let upi_listener =
        TcpListener::bind("127.0.0.1:0").await.map_err(io("binding UPI's listener"))?;
    let switch_addr = switch_listener.local_addr().map_err(io("the switch's address"))?;
    let upi_addr = upi_listener.local_addr().map_err(io("UPI's address"))?;
    for (listener, me, allowed) in [
        (
            switch_listener,
            Role::Switch,
            all.iter().copied().filter(|r| r.on_the_switch()).collect::<Vec<_>>(),
        ),
        (
            upi_listener,
            Role::Upi,
            all.iter()
                .copied()
                .filter(|r| matches!(r, Role::Switch | Role::CnIssuer(_) | Role::CnAcquirer(_)))
                .collect(),
        ),
    ] {
        let allowed: Vec<(InstitutionId, MacKey)> =
            allowed.iter().map(|r| (r.institution(), keys[r].clone())).collect();
        let inbox = inboxes[&me].clone();
        let refusals = refusals.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let (allowed, inbox, refusals) = (allowed.clone(), inbox.clone(), refusals.clone());
                tokio::spawn(async move {
                    let (deliver, mut frames) = mpsc::unbounded_channel();
                    if let Ok((peer, outbox)) =
                        link::accept(stream, me.institution(), &allowed, now(), deliver, refusals)
                            .await
                    {
                        let _ = inbox.send(Inbound::LinkUp(peer, outbox));
                        while let Some((from, frame)) = frames.recv().await {
                            if inbox.send(Inbound::Frame(from, Box::new(frame))).is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
    }
    for role in all.iter().copied().filter(|r| !matches!(r, Role::Upi)) {
        let (addr, peer) =
            if role.on_the_switch() { (switch_addr, Role::Switch) } else { (upi_addr, Role::Upi) };
        let (deliver, mut frames) = mpsc::unbounded_channel();
        let ends = link::Ends {
            me: role.institution(),
            peer: peer.institution(),
            echo_every: Some(echo_every),
        };
        let outbox =
            link::connect(addr, ends, keys[&role].clone(), now(), deliver, refusals.clone())
                .await?;
        let inbox = inboxes[&role].clone();
        let _ = inbox.send(Inbound::LinkUp(peer.institution(), outbox));
        tokio::spawn(async move {
            while let Some((from, frame)) = frames.recv().await {
                if inbox.send(Inbound::Frame(from, Box::new(frame))).is_err() {
                    return;
                }
            }
        });
    }
    Ok(())
}

fn frame_receiver(frame: &crate::payments::network::iso8583::Frame) -> InstitutionId {
    match frame {
        crate::payments::network::iso8583::Frame::Payment(p) => {
            p.receiver.unwrap_or(Role::Upi.institution())
        }
        crate::payments::network::iso8583::Frame::Network(_) => Role::Upi.institution(),
    }
}

fn recovery_advice(p: &journal::RecoveredPayment) -> crate::payments::network::iso8583::Frame {
    let rrn = Rrn::new(p.id).expect("payment ids are RRNs");
    let message = Message::request(Mti::ReversalAdvice, Stan::new(0).expect("0"), rrn, p.amount);
    let originator = roles_by_name(&p.originator).unwrap_or(Role::Switch);
    crate::payments::network::iso8583::Frame::Payment(PaymentFrame {
        message,
        processing: Processing::Purchase,
        sent: TransmissionTime::of(now()),
        acquirer: originator.institution(),
        forwarder: Some(Role::Switch.institution()),
        receiver: Role::of(InstitutionId::new(u64::from(p.payee.0)).expect("small"))
            .map(Role::institution),
        payer: None,
        payee: None,
        qr_md5: None,
        original: None,
    })
}

pub(super) fn roles_by_name(name: &str) -> Option<Role> {
    let (kind, n) = name.rsplit_once('_')?;
    let n: u16 = n.parse().ok()?;
    match kind {
        "kh_bank" => Some(Role::KhBank(n)),
        "cn_issuer" => Some(Role::CnIssuer(n)),
        "cn_acquirer" => Some(Role::CnAcquirer(n)),
        _ => None,
    }
}
