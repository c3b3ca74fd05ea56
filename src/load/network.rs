//! The participants of `sim serve`, each a tokio task with its own inbox: the Bakong switch and
//! UPI relay by DE 100 with a deadline of their own; member banks, issuers and acquirers
//! originate (for the payer API) and book the payee's side (emulated: the scenario's latency
//! and decline rates, in real time divided by the speed-up).
//!
//! The switch is the real core: it books every approval between participants' settlement
//! accounts in the core's ledger ([`SettlementBook`]), journals the booking before the
//! approval goes on, journals a reversal intent before the advice goes out, and resends
//! advices until acknowledged.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::journal::{Accepted, Booking, Entry, SettlementBook, Writer};
use super::link::Outbox;
use crate::payments::clearing::Rrn;
use crate::payments::ledger::TransferId;
use crate::payments::money::Money;
use crate::payments::network::far_side::{FarPhase, FarSide, RequestStep, ReversalStep};
use crate::payments::network::iso8583::Processing;
use crate::payments::network::iso8583::{Frame, InstitutionId, PaymentFrame};
use crate::payments::network::originator::{
    InquiryStep, Originator, OriginatorPolicy, ReversalStep as OriginatorReversal, Timer,
};
use crate::payments::network::{Decline, Message, Mti, Outcome, ResponseCode};
use crate::payments::party::{Flow, ParticipantId};
use crate::payments::time::{Span, Timestamp};
use crate::sim::network::Latency;
use crate::sim::rng::Prng;
use crate::sim::world::config::FailureRates;

/// A participant's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// The Bakong switch.
    Switch,
    /// UnionPay International.
    Upi,
    /// A Bakong member bank.
    KhBank(u16),
    /// A Chinese issuer of UnionPay wallets.
    CnIssuer(u16),
    /// A Chinese acquirer (0: WeChat Pay's, 1: UnionPay's).
    CnAcquirer(u16),
}

impl Role {
    /// The participant's name (the key file and the payer API use it).
    pub fn name(self) -> String {
        match self {
            Role::Switch => "switch".into(),
            Role::Upi => "upi".into(),
            Role::KhBank(i) => format!("kh_bank_{i}"),
            Role::CnIssuer(i) => format!("cn_issuer_{i}"),
            Role::CnAcquirer(i) => format!("cn_acquirer_{i}"),
        }
    }

    /// Its institution code on the wire.
    pub fn institution(self) -> InstitutionId {
        let n = match self {
            Role::Switch => 1,
            Role::Upi => 2,
            Role::KhBank(i) => 1000 + u64::from(i),
            Role::CnIssuer(i) => 2000 + u64::from(i),
            Role::CnAcquirer(i) => 3000 + u64::from(i),
        };
        InstitutionId::new(n).expect("small")
    }

    /// Its participant number in the books.
    pub fn participant(self) -> ParticipantId {
        ParticipantId(u16::try_from(self.institution().get()).expect("small"))
    }

    /// The role with this institution code.
    pub fn of(id: InstitutionId) -> Option<Role> {
        let n = u16::try_from(id.get()).ok()?;
        match n {
            1 => Some(Role::Switch),
            2 => Some(Role::Upi),
            1000..2000 => Some(Role::KhBank(n - 1000)),
            2000..3000 => Some(Role::CnIssuer(n - 2000)),
            3000..4000 => Some(Role::CnAcquirer(n - 3000)),
            _ => None,
        }
    }

    /// Whether this participant signs on to the switch (else to UPI).
    pub fn on_the_switch(self) -> bool {
        matches!(self, Role::KhBank(_))
    }
}

/// What a payer's request becomes, once the API has checked it.
#[derive(Clone, Debug)]
pub struct PayOrder {
    /// The payment's number (its RRN).
    pub id: u64,
    /// The flow.
    pub flow: Flow,
    /// The payee's amount.
    pub amount: Money,
    /// What the payer pays, when another currency.
    pub billing: Option<Money>,
    /// The payee's participant.
    pub payee: Role,
    /// The payer.
    pub payer: String,
    /// The payee's account.
    pub payee_account: String,
    /// The code's MD5.
    pub qr_md5: [u8; 16],
    /// Journaled as accepted.
    pub accepted: Accepted,
}

/// A payment's status as the API reports it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    /// Its number.
    pub payment_id: u64,
    /// `pending`, `approved`, `declined`, `reversed`.
    pub status: String,
    /// The decline class, when declined.
    pub decline_class: Option<String>,
    /// From acceptance to the answer, when final.
    pub latency_ms: Option<u64>,
}

/// Shared counters and statuses.
#[derive(Default)]
pub struct Shared {
    /// Every payment's status, by number.
    pub statuses: Mutex<BTreeMap<u64, Status>>,
    /// Payments by flow and outcome name.
    pub outcomes: Mutex<BTreeMap<(String, String), u64>>,
    /// Latency histograms by flow (µs).
    pub latency: Mutex<BTreeMap<String, hdrhistogram::Histogram<u64>>>,
    /// Frames handled per participant name.
    pub frames: Mutex<BTreeMap<String, u64>>,
    /// Reversal advices sent (first and repeated).
    pub advices_sent: AtomicU64,
    /// Reversal advices acknowledged.
    pub advices_acked: AtomicU64,
    /// Approvals the switch's books refused (declined and reversed instead).
    pub book_rejects: AtomicU64,
    /// Status inquiries (0600) originators sent after their timeout.
    pub inquiries_sent: AtomicU64,
}

impl Shared {
    /// Records a payment's final outcome.
    pub fn finish(&self, id: u64, flow: Flow, outcome: Outcome, latency: Option<Duration>) {
        let (status, decline) = status_of(outcome);
        let decline = decline.map(str::to_string);
        let latency_ms = latency.map(|l| u64::try_from(l.as_millis()).unwrap_or(u64::MAX));
        self.statuses.lock().expect("not poisoned").insert(
            id,
            Status {
                payment_id: id,
                status: status.into(),
                decline_class: decline.clone(),
                latency_ms,
            },
        );
        let key = (flow.name().to_string(), decline.unwrap_or_else(|| status.to_string()));
        *self.outcomes.lock().expect("not poisoned").entry(key).or_default() += 1;
        if let Some(l) = latency {
            let mut hists = self.latency.lock().expect("not poisoned");
            let h = hists.entry(flow.name().to_string()).or_insert_with(|| {
                hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds")
            });
            h.saturating_record(u64::try_from(l.as_micros()).unwrap_or(u64::MAX).max(1));
        }
    }
}

/// What reaches a participant's task.
pub enum Inbound {
    /// A link came up to this peer.
    LinkUp(InstitutionId, Outbox),
    /// A frame from a peer.
    Frame(InstitutionId, Box<Frame>),
    /// A payer's order (originators), answered with the status on the channel.
    Pay(Box<PayOrder>, oneshot::Sender<Status>),
    /// An originator's timer for a payment (its timeout, an inquiry, a reversal attempt).
    OriginatorTimer(u64, Timer),
    /// A relay's deadline for a payment passed.
    Deadline(u64),
    /// Time to send an unacknowledged reversal advice again.
    AdviceRetry(u64),
    /// The emulated far side has decided.
    Decided(u64),
    /// A payment's answer is durable: send it.
    Send(InstitutionId, Box<Frame>),
}

/// What a participant's task needs to know.
#[derive(Clone)]
pub struct Setup {
    /// Who it is.
    pub role: Role,
    /// Real time per emulated time: delays are divided by this.
    pub speedup: f64,
    /// The emulated far side's delays, summed (service and the links there and back).
    pub far_delay: Vec<Latency>,
    /// Each flow's decline rates, the simulator's own (drawn where the simulator draws them:
    /// the originator's decision, the scheme's technical error, the far side's decision).
    pub(crate) rates: Arc<BTreeMap<Flow, FailureRates>>,
    /// Each flow's originator policy, the simulator's own: timeout, inquiries, reversal
    /// back-off (scenario time, divided by the speed-up).
    pub policies: Arc<BTreeMap<Flow, OriginatorPolicy>>,
    /// A relay's deadline toward the next hop.
    pub deadline: Duration,
    /// The seed of its streams.
    pub seed: u64,
    /// The reversal advice back-off, capped at its last step.
    pub advice_backoff: Vec<Duration>,
}

/// The flow of a payment frame, from its originator, its payee's participant and its
/// processing code.
pub fn flow_of(p: &PaymentFrame) -> Option<Flow> {
    let origin = Role::of(p.acquirer)?;
    let payee = Role::of(p.receiver?)?;
    Some(match (origin, payee, p.processing) {
        (_, _, Processing::Transfer) => Flow::Remittance,
        (Role::KhBank(_), Role::KhBank(_), _) => Flow::Domestic,
        (Role::CnIssuer(_), _, _) => Flow::Inward,
        _ => Flow::Outward,
    })
}

/// The originator's decision, the simulator's own (PIN, limit, risk, the host's
/// availability), and then the payer's balance (an empty wallet, in the simulator).
pub(crate) fn origin_decision(r: &FailureRates, rng: &mut Prng) -> Option<Decline> {
    r.originator_decline(|_, ppm| rng.chance_ppm(ppm))
        .or_else(|| rng.chance_ppm(r.insufficient_balance).then_some(Decline::InsufficientBalance))
}

/// Whether `role` is the scheme of `flow` (where the scheme's technical error strikes): the
/// switch for domestic payments, UPI for the rest.
pub fn is_scheme(role: Role, flow: Flow) -> bool {
    match flow {
        Flow::Domestic => role == Role::Switch,
        _ => role == Role::Upi,
    }
}

fn scaled(d: Duration, speedup: f64) -> Duration {
    Duration::from_secs_f64(d.as_secs_f64() / speedup)
}

/// An outcome as the API and the journal write it: the status, and the decline class apart.
pub fn status_of(outcome: Outcome) -> (&'static str, Option<&'static str>) {
    match outcome {
        Outcome::Approved | Outcome::ApprovedLate => ("approved", None),
        Outcome::Declined(d) => ("declined", Some(d.name())),
        Outcome::Reversed => ("reversed", None),
        Outcome::Manual => ("manual", None),
        Outcome::Abandoned => ("abandoned", None),
    }
}

/// The outcome a journaled status and decline class stand for (the inverse of [`status_of`]).
pub fn outcome_of(status: &str, decline: Option<&str>) -> Outcome {
    match status {
        "approved" => Outcome::Approved,
        "reversed" => Outcome::Reversed,
        "abandoned" => Outcome::Abandoned,
        "declined" => Outcome::Declined(
            Decline::ALL
                .into_iter()
                .find(|d| Some(d.name()) == decline)
                .unwrap_or(Decline::SwitchError),
        ),
        _ => Outcome::Manual,
    }
}

/// The wall clock as the core's instant.
pub(crate) fn now() -> Timestamp {
    let since =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timestamp::from_nanos(u64::try_from(since.as_nanos()).unwrap_or(u64::MAX))
}

fn after(inbox: &mpsc::UnboundedSender<Inbound>, wait: Duration, event: Inbound) {
    let inbox = inbox.clone();
    tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        let _ = inbox.send(event);
    });
}

fn payment_frame(frame: &Frame) -> Option<&PaymentFrame> {
    match frame {
        Frame::Payment(p) => Some(p),
        Frame::Network(_) => None,
    }
}

fn respond(p: &PaymentFrame, code: ResponseCode) -> Frame {
    let mut answer = p.clone();
    answer.message = p.message.respond(code);
    answer.sent = crate::payments::network::iso8583::TransmissionTime::of(now());
    Frame::Payment(answer)
}

fn advice(p: &PaymentFrame) -> Frame {
    let mut a = p.clone();
    a.message = Message { mti: Mti::ReversalAdvice, response: None, ..p.message };
    a.original = Some(crate::payments::network::iso8583::Original {
        mti: Mti::FinancialRequest,
        stan: p.message.stan,
        sent: p.sent,
        acquirer: p.acquirer,
    });
    a.sent = crate::payments::network::iso8583::TransmissionTime::of(now());
    Frame::Payment(a)
}

/// Inquiries UPI has passed on and not yet seen answered, at most (beyond, it answers "not
/// found" itself).
pub const INQUIRIES_MAX: usize = 1 << 16;

/// Payments a relay remembers as reversed (their late requests are declined).
pub const REVERSED_REMEMBERED: usize = 1 << 20;

/// A relay's payment in flight.
struct Relayed {
    request: PaymentFrame,
    from: InstitutionId,
    to: InstitutionId,
}

/// An advice not yet acknowledged.
struct Advice {
    frame: Frame,
    to: InstitutionId,
    attempt: usize,
}

/// The state of a relay (the switch with its books and journal, or UPI).
pub struct Relay {
    setup: Setup,
    links: BTreeMap<InstitutionId, Outbox>,
    pending: BTreeMap<u64, Relayed>,
    advices: BTreeMap<u64, Advice>,
    booked: BTreeMap<u64, Booking>,
    reversed: std::collections::BTreeSet<u64>,
    reversed_order: std::collections::VecDeque<u64>,
    book: Option<(SettlementBook, Writer)>,
    next_transfer: u64,
    /// Inquiries UPI passed on to the switch: whom to pass the answer back to.
    inquiries: BTreeMap<u64, InstitutionId>,
    rng: Prng,
    shared: Arc<Shared>,
}

impl Relay {
    /// A relay; the switch has `book` (its settlement ledger, rebuilt from the journal) and
    /// the bookings of payments still open.
    pub fn new(
        setup: Setup,
        book: Option<(SettlementBook, Writer)>,
        next_transfer: u64,
        booked: BTreeMap<u64, Booking>,
        shared: Arc<Shared>,
    ) -> Relay {
        let rng = Prng::stream(setup.seed, setup.role.institution().get());
        Relay {
            rng,
            inquiries: BTreeMap::new(),
            setup,
            links: BTreeMap::new(),
            pending: BTreeMap::new(),
            advices: BTreeMap::new(),
            booked,
            reversed: std::collections::BTreeSet::new(),
            reversed_order: std::collections::VecDeque::new(),
            book,
            next_transfer,
            shared,
        }
    }

    /// Queues reversal advices recovered from the journal, sent when their link is up.
    pub fn resume_advice(&mut self, frame: Frame, to: InstitutionId) {
        if let Some(p) = payment_frame(&frame) {
            let id = p.message.rrn.get();
            self.advices.insert(id, Advice { frame, to, attempt: 0 });
        }
    }

    fn next_hop(&self, p: &PaymentFrame) -> Option<InstitutionId> {
        let receiver = Role::of(p.receiver?)?;
        let hop = match (self.setup.role, receiver) {
            (Role::Switch, Role::KhBank(_))
            | (Role::Upi, Role::CnAcquirer(_) | Role::CnIssuer(_)) => receiver,
            (Role::Switch, _) => Role::Upi,
            (Role::Upi, _) => Role::Switch,
            _ => return None,
        };
        Some(hop.institution())
    }

    fn send(&self, to: InstitutionId, frame: Frame) {
        if let Some(link) = self.links.get(&to) {
            let _ = link.send(frame);
        }
    }

    /// Runs the relay until its inbox closes.
    pub async fn run(
        mut self,
        inbox_tx: mpsc::UnboundedSender<Inbound>,
        mut inbox: mpsc::UnboundedReceiver<Inbound>,
    ) {
        let name = self.setup.role.name();
        while let Some(event) = inbox.recv().await {
            match event {
                Inbound::LinkUp(peer, outbox) => {
                    self.links.insert(peer, outbox);
                    let ids: Vec<u64> = self
                        .advices
                        .iter()
                        .filter(|(_, a)| a.to == peer)
                        .map(|(id, _)| *id)
                        .collect();
                    for id in ids {
                        let _ = inbox_tx.send(Inbound::AdviceRetry(id));
                    }
                }
                Inbound::Frame(from, frame) => {
                    let frame = *frame;
                    *self
                        .shared
                        .frames
                        .lock()
                        .expect("not poisoned")
                        .entry(name.clone())
                        .or_default() += 1;
                    if let Frame::Payment(p) = frame {
                        self.on_payment(from, p, &inbox_tx);
                    }
                }
                Inbound::Deadline(id) => self.on_deadline(id, &inbox_tx),
                Inbound::AdviceRetry(id) => self.on_advice_retry(id, &inbox_tx),
                Inbound::Send(to, frame) => self.send(to, *frame),
                Inbound::Pay(..) | Inbound::OriginatorTimer(..) | Inbound::Decided(_) => {}
            }
        }
    }

    #[allow(clippy::too_many_lines)] // One match over the message types a relay handles.
    fn on_payment(
        &mut self,
        from: InstitutionId,
        p: PaymentFrame,
        inbox: &mpsc::UnboundedSender<Inbound>,
    ) {
        let id = p.message.rrn.get();
        match p.message.mti {
            Mti::FinancialRequest => {
                let Some(to) = self.next_hop(&p).filter(|to| self.links.contains_key(to)) else {
                    self.send(
                        from,
                        respond(&p, ResponseCode::Declined(Decline::IssuerUnavailable)),
                    );
                    return;
                };
                if self.pending.contains_key(&id) || self.booked.contains_key(&id) {
                    return; // A duplicate of a request in flight or done: the first answer stands.
                }
                if self.reversed.contains(&id) {
                    // Its reversal came first (the payer gave up): it must not go on.
                    self.send(from, respond(&p, ResponseCode::Declined(Decline::Reversed)));
                    return;
                }
                if let Some(flow) = flow_of(&p)
                    && is_scheme(self.setup.role, flow)
                    && let Some(r) = self.setup.rates.get(&flow)
                    && self.rng.chance_ppm(r.switch_error)
                {
                    self.send(from, respond(&p, ResponseCode::Declined(Decline::SwitchError)));
                    return;
                }
                self.send(to, Frame::Payment(p.clone()));
                self.pending.insert(id, Relayed { request: p, from, to });
                after(
                    inbox,
                    scaled(self.setup.deadline, self.setup.speedup),
                    Inbound::Deadline(id),
                );
            }
            Mti::FinancialResponse => {
                let Some(relayed) = self.pending.remove(&id) else { return };
                let approved = p.message.response == Some(ResponseCode::Approved);
                let mut answer = p;
                answer.message.stan = relayed.request.message.stan;
                let booking =
                    settlement_booking(&relayed.request, TransferId(self.next_transfer), false);
                if approved && let (Some((book, writer)), Some(booking)) = (&mut self.book, booking)
                {
                    // The switch books before the approval goes on, and sends it once durable.
                    self.next_transfer += 1;
                    if let Err(reject) = book.apply(&booking, now()) {
                        // The books refuse it: decline upstream, take the credit back downstream.
                        self.shared.book_rejects.fetch_add(1, Ordering::Relaxed);
                        let _ = reject;
                        self.send(
                            relayed.from,
                            respond(&relayed.request, ResponseCode::Declined(Decline::SwitchError)),
                        );
                        self.advices.insert(
                            id,
                            Advice { frame: advice(&relayed.request), to: relayed.to, attempt: 0 },
                        );
                        let _ = inbox.send(Inbound::AdviceRetry(id));
                        return;
                    }
                    self.booked.insert(id, booking);
                    let (inbox, to) = (inbox.clone(), relayed.from);
                    let frame = Box::new(Frame::Payment(answer));
                    let _ = writer.submit(
                        vec![Entry::Booked(booking)],
                        Box::new(move |r| {
                            if r.is_ok() {
                                let _ = inbox.send(Inbound::Send(to, frame));
                            }
                        }),
                    );
                } else {
                    self.send(relayed.from, Frame::Payment(answer));
                }
            }
            Mti::ReversalAdvice => {
                // Store and forward: take responsibility, acknowledge, advise downstream.
                self.remember_reversed(id);
                let relayed = self.pending.remove(&id);
                let to = relayed.as_ref().map(|r| r.to).or_else(|| self.next_hop(&p));
                let mut entries = Vec::new();
                if let Some(b) = self.booked.remove(&id)
                    && let Some((book, _)) = &mut self.book
                {
                    let undo = Booking {
                        transfer: TransferId(self.next_transfer),
                        reversal: true,
                        debit: b.credit,
                        credit: b.debit,
                        ..b
                    };
                    self.next_transfer += 1;
                    book.apply(&undo, now()).expect("a reversal of a booking applies");
                    entries.push(Entry::Booked(undo));
                }
                let ack = respond(&p, ResponseCode::Approved);
                if let Some(to) = to {
                    self.advices.insert(id, Advice { frame: advice(&p), to, attempt: 0 });
                }
                match &self.book {
                    Some((_, writer)) => {
                        entries.push(Entry::ReversalIntent { payment: id, at: now() });
                        let inbox = inbox.clone();
                        let frame = Box::new(ack);
                        let _ = writer.submit(
                            entries,
                            Box::new(move |r| {
                                if r.is_ok() {
                                    let _ = inbox.send(Inbound::Send(from, frame));
                                    let _ = inbox.send(Inbound::AdviceRetry(id));
                                }
                            }),
                        );
                    }
                    None => {
                        self.send(from, ack);
                        let _ = inbox.send(Inbound::AdviceRetry(id));
                    }
                }
            }
            Mti::StatusInquiry => self.on_inquiry(from, &p),
            Mti::StatusInquiryResponse => {
                if let Some(back) = self.inquiries.remove(&id) {
                    self.send(back, Frame::Payment(p));
                }
            }
            Mti::ReversalAdviceResponse if self.advices.remove(&id).is_some() => {
                self.shared.advices_acked.fetch_add(1, Ordering::Relaxed);
                if let Some((_, writer)) = &self.book {
                    let _ = writer.submit(
                        vec![Entry::ReversalAcked { payment: id, at: now() }],
                        Box::new(|_| {}),
                    );
                }
            }
            _ => {}
        }
    }

    /// A status inquiry (0600): the switch answers from its books (approved if it booked the
    /// payment, declined if it was reversed here, else not found: still in flight, or never
    /// seen); UPI passes an inquiry about a payment to a Bakong member on to the switch and
    /// its answer back, and answers "not found" for the rest.
    fn on_inquiry(&mut self, from: InstitutionId, p: &PaymentFrame) {
        let id = p.message.rrn.get();
        let switch = Role::Switch.institution();
        let code = if self.book.is_some() {
            if self.booked.contains_key(&id) {
                ResponseCode::Approved
            } else if self.reversed.contains(&id) {
                ResponseCode::Declined(Decline::Reversed)
            } else {
                ResponseCode::NotFound
            }
        } else if self.next_hop(p) == Some(switch)
            && self.links.contains_key(&switch)
            && self.inquiries.len() < INQUIRIES_MAX
        {
            self.inquiries.insert(id, from);
            self.send(switch, Frame::Payment(p.clone()));
            return;
        } else {
            ResponseCode::NotFound
        };
        self.send(from, respond(p, code));
    }

    /// Remembers that a payment was reversed here, for [`REVERSED_REMEMBERED`] payments, so
    /// that its request arriving late is declined instead of relayed.
    fn remember_reversed(&mut self, id: u64) {
        if self.reversed.insert(id) {
            self.reversed_order.push_back(id);
            if self.reversed_order.len() > REVERSED_REMEMBERED
                && let Some(old) = self.reversed_order.pop_front()
            {
                self.reversed.remove(&old);
            }
        }
    }

    fn on_deadline(&mut self, id: u64, inbox: &mpsc::UnboundedSender<Inbound>) {
        let Some(relayed) = self.pending.remove(&id) else { return };
        self.send(
            relayed.from,
            respond(&relayed.request, ResponseCode::Declined(Decline::HopTimeout)),
        );
        self.advices
            .insert(id, Advice { frame: advice(&relayed.request), to: relayed.to, attempt: 0 });
        match &self.book {
            Some((_, writer)) => {
                let inbox = inbox.clone();
                let _ = writer.submit(
                    vec![Entry::ReversalIntent { payment: id, at: now() }],
                    Box::new(move |r| {
                        if r.is_ok() {
                            let _ = inbox.send(Inbound::AdviceRetry(id));
                        }
                    }),
                );
            }
            None => {
                let _ = inbox.send(Inbound::AdviceRetry(id));
            }
        }
    }

    fn on_advice_retry(&mut self, id: u64, inbox: &mpsc::UnboundedSender<Inbound>) {
        let backoff = &self.setup.advice_backoff;
        let Some(a) = self.advices.get_mut(&id) else { return };
        if let Some(link) = self.links.get(&a.to) {
            let _ = link.send(a.frame.clone());
            self.shared.advices_sent.fetch_add(1, Ordering::Relaxed);
        }
        let wait = backoff[a.attempt.min(backoff.len() - 1)];
        a.attempt += 1;
        after(inbox, scaled(wait, self.setup.speedup), Inbound::AdviceRetry(id));
    }
}

/// The settlement transfer of an approved payment: who pays whom between participants; none
/// for a payment between two customers of one bank (on us: nothing moves between banks).
pub fn settlement_booking(
    p: &PaymentFrame,
    transfer: TransferId,
    reversal: bool,
) -> Option<Booking> {
    let payer = Role::of(p.acquirer).unwrap_or(Role::Switch);
    let payee = p.receiver.and_then(Role::of).unwrap_or(Role::Switch);
    // Cross-border money moves between the bank and the scheme (UPI) in the bank's currency.
    let (debit, credit, amount) = match (payer, payee) {
        (Role::KhBank(_), Role::KhBank(_)) => (payer, payee, p.message.amount),
        (Role::CnIssuer(_), _) => (Role::Upi, payee, p.message.amount),
        (_, _) => (payer, Role::Upi, p.message.billing.unwrap_or(p.message.amount)),
    };
    (debit != credit).then(|| Booking {
        transfer,
        payment: p.message.rrn.get(),
        debit: debit.participant(),
        credit: credit.participant(),
        amount,
        reversal,
    })
}

/// The frame of a payment's message from its originator `role`: the request (with the payer,
/// the payee and the code), or an inquiry or advice naming it.
fn order_frame(role: Role, order: &PayOrder, mti: Mti) -> Frame {
    let rrn = Rrn::new(order.id).expect("payment ids are RRNs");
    let mut message = Message::request(
        mti,
        crate::payments::network::Stan::new(0).expect("0"),
        rrn,
        order.amount,
    );
    message.billing = order.billing;
    let request = mti == Mti::FinancialRequest;
    let sent = crate::payments::network::iso8583::TransmissionTime::of(now());
    Frame::Payment(PaymentFrame {
        message,
        processing: if order.flow == Flow::Remittance {
            crate::payments::network::iso8583::Processing::Transfer
        } else {
            crate::payments::network::iso8583::Processing::Purchase
        },
        sent,
        acquirer: role.institution(),
        forwarder: None,
        receiver: Some(order.payee.institution()),
        payer: request.then(|| order.payer.clone()),
        payee: request.then(|| order.payee_account.clone()),
        qr_md5: request.then_some(order.qr_md5),
        original: (!request).then_some(crate::payments::network::iso8583::Original {
            mti: Mti::FinancialRequest,
            stan: crate::payments::network::Stan::new(0).expect("0"),
            sent,
            acquirer: role.institution(),
        }),
    })
}

/// A member bank, issuer or acquirer: originates for its payers, books its payees' side.
pub struct Member {
    setup: Setup,
    link: Option<(InstitutionId, Outbox)>,
    waiting: BTreeMap<u64, Waiting>,
    credits: BTreeMap<u64, Far>,
    rng: Prng,
    writer: Writer,
    shared: Arc<Shared>,
}

struct Waiting {
    order: Box<PayOrder>,
    /// The payer's answer, until it is given (the outcome, or `pending` at the timeout).
    answer: Option<oneshot::Sender<Status>>,
    started: std::time::Instant,
    /// The core's state machine of the payment at its originator.
    originator: Originator,
}

/// A payment at this member's far side: the core's state machine, and the request while the
/// emulated decision is pending.
#[derive(Default)]
struct Far {
    side: FarSide,
    deciding: Option<Box<PaymentFrame>>,
}

impl Member {
    /// A member with its streams.
    pub fn new(setup: Setup, writer: Writer, shared: Arc<Shared>) -> Member {
        let rng = Prng::stream(setup.seed, setup.role.institution().get());
        Member {
            setup,
            link: None,
            waiting: BTreeMap::new(),
            credits: BTreeMap::new(),
            rng,
            writer,
            shared,
        }
    }

    fn send(&self, frame: Frame) {
        if let Some((_, link)) = &self.link {
            let _ = link.send(frame);
        }
    }

    /// Runs the member until its inbox closes.
    pub async fn run(
        mut self,
        inbox_tx: mpsc::UnboundedSender<Inbound>,
        mut inbox: mpsc::UnboundedReceiver<Inbound>,
    ) {
        let name = self.setup.role.name();
        while let Some(event) = inbox.recv().await {
            match event {
                Inbound::LinkUp(peer, outbox) => self.link = Some((peer, outbox)),
                Inbound::Frame(_, frame) if matches!(*frame, Frame::Payment(_)) => {
                    let Frame::Payment(p) = *frame else { continue };
                    *self
                        .shared
                        .frames
                        .lock()
                        .expect("not poisoned")
                        .entry(name.clone())
                        .or_default() += 1;
                    self.on_payment(p, &inbox_tx);
                }
                Inbound::Frame(..) => {}
                Inbound::Pay(order, answer) => self.on_pay(order, answer, &inbox_tx),
                Inbound::OriginatorTimer(id, timer) => self.on_timer(id, timer, &inbox_tx),
                Inbound::Decided(id) => self.on_decided(id),
                Inbound::Send(_, frame) => self.send(*frame),
                Inbound::Deadline(_) | Inbound::AdviceRetry(_) => {}
            }
        }
    }

    /// Sends `frame` through the writer's queue, so that it leaves after everything journaled
    /// before it (a request leaves once its acceptance has committed).
    fn send_after_journal(&self, frame: Frame, inbox: &mpsc::UnboundedSender<Inbound>) {
        let Some((peer, _)) = &self.link else { return };
        let (peer, inbox) = (*peer, inbox.clone());
        let _ = self.writer.submit(
            Vec::new(),
            Box::new(move |_| {
                let _ = inbox.send(Inbound::Send(peer, Box::new(frame)));
            }),
        );
    }

    /// Sets one of the core originator's timers, in real time.
    fn set_timer(&self, inbox: &mpsc::UnboundedSender<Inbound>, id: u64, timer: Timer, wait: Span) {
        let wait = scaled(Duration::from_nanos(wait.as_nanos()), self.setup.speedup);
        after(inbox, wait, Inbound::OriginatorTimer(id, timer));
    }

    /// A payer's order: the originator's own decision (the core's `on_request`), then the
    /// acceptance journaled, the request sent once it is durable, and the timeout set.
    fn on_pay(
        &mut self,
        order: Box<PayOrder>,
        answer: oneshot::Sender<Status>,
        inbox: &mpsc::UnboundedSender<Inbound>,
    ) {
        let id = order.id;
        if self.link.is_none() {
            let _ = answer.send(Status {
                payment_id: id,
                status: "declined".into(),
                decline_class: Some(Decline::SwitchError.name().into()),
                latency_ms: Some(0),
            });
            return;
        }
        self.shared.statuses.lock().expect("not poisoned").insert(
            id,
            Status {
                payment_id: id,
                status: "pending".into(),
                decline_class: None,
                latency_ms: None,
            },
        );
        let flow = order.flow;
        let accepted = order.accepted.clone();
        let frame = order_frame(self.setup.role, &order, Mti::FinancialRequest);
        let mut originator = Originator::default();
        let rng = &mut self.rng;
        let decision = self.setup.rates.get(&flow).and_then(|r| origin_decision(r, rng));
        let declined = originator.on_request(decision).err();
        let started = std::time::Instant::now();
        self.waiting.insert(id, Waiting { order, answer: Some(answer), started, originator });
        let _ = self.writer.submit(vec![Entry::Accepted(accepted)], Box::new(|_| {}));
        if let Some(d) = declined {
            // The originator's own decline: journaled, answered, nothing sent.
            self.finish(id, Outcome::Declined(d));
            return;
        }
        let Some(policy) = self.setup.policies.get(&flow) else { return };
        let w = self.waiting.get_mut(&id).expect("inserted above");
        let (timer, wait) = w.originator.on_authorised(policy);
        self.send_after_journal(frame, inbox);
        self.set_timer(inbox, id, timer, wait);
    }

    fn finish(&mut self, id: u64, outcome: Outcome) {
        let Some(mut w) = self.waiting.remove(&id) else { return };
        let latency = w.started.elapsed();
        let flow = w.order.flow;
        let (name, decline) = status_of(outcome);
        let decline = decline.map(str::to_string);
        let answer = w.answer.take();
        let acknowledged = answer.is_some();
        let shared = self.shared.clone();
        // The outcome is reported (to the payer, and by GET) only once it is durable.
        let _ = self.writer.submit(
            vec![Entry::Final {
                payment: id,
                outcome: name.into(),
                decline,
                at: now(),
                acknowledged,
            }],
            Box::new(move |r| {
                if r.is_ok() {
                    shared.finish(id, flow, outcome, Some(latency));
                    let status = shared.statuses.lock().expect("not poisoned").get(&id).cloned();
                    if let (Some(answer), Some(status)) = (answer, status) {
                        let _ = answer.send(status);
                    }
                }
            }),
        );
    }

    /// One of the core originator's timers: at the timeout the payer is told `pending` and
    /// the originator inquires (0600) every `inquiry_every`; when no inquiry settles the
    /// payment it sends the reversal advice (0420), again on the back-off until acknowledged,
    /// and past the last attempt the payment goes to manual handling.
    fn on_timer(&mut self, id: u64, timer: Timer, inbox: &mpsc::UnboundedSender<Inbound>) {
        enum Then {
            Nothing,
            Timer(Timer, Span),
            Send(Frame, Timer, Span),
            Advise(Frame, Timer, Span),
            Manual,
        }
        let role = self.setup.role;
        let then = {
            let Some(w) = self.waiting.get_mut(&id) else { return };
            let Some(policy) = self.setup.policies.get(&w.order.flow) else { return };
            match timer {
                Timer::Timeout { epoch } => match w.originator.on_timeout(epoch) {
                    None => Then::Nothing,
                    Some(next) => {
                        if let Some(answer) = w.answer.take() {
                            let _ = answer.send(Status {
                                payment_id: id,
                                status: "pending".into(),
                                decline_class: None,
                                latency_ms: None,
                            });
                        }
                        Then::Timer(next, Span::ZERO)
                    }
                },
                Timer::Inquiry { n } => match w.originator.on_inquiry_timer(n, policy) {
                    InquiryStep::Stale => Then::Nothing,
                    InquiryStep::Send { next, after } => {
                        Then::Send(order_frame(role, &w.order, Mti::StatusInquiry), next, after)
                    }
                    InquiryStep::Reverse { .. } => {
                        Then::Timer(w.originator.first_reversal(), Span::ZERO)
                    }
                },
                Timer::Reversal { attempt } => {
                    match w.originator.on_reversal_timer(attempt, policy) {
                        OriginatorReversal::Stale => Then::Nothing,
                        OriginatorReversal::Send { next, after } => Then::Advise(
                            order_frame(role, &w.order, Mti::ReversalAdvice),
                            next,
                            after,
                        ),
                        OriginatorReversal::Manual => Then::Manual,
                    }
                }
            }
        };
        match then {
            Then::Nothing => {}
            Then::Timer(next, wait) => self.set_timer(inbox, id, next, wait),
            Then::Send(frame, next, wait) => {
                self.shared.inquiries_sent.fetch_add(1, Ordering::Relaxed);
                self.send(frame);
                self.set_timer(inbox, id, next, wait);
            }
            Then::Advise(frame, next, wait) => {
                self.send_after_journal(frame, inbox);
                self.set_timer(inbox, id, next, wait);
            }
            Then::Manual => self.finish(id, Outcome::Manual),
        }
    }

    fn on_payment(&mut self, p: PaymentFrame, inbox: &mpsc::UnboundedSender<Inbound>) {
        let id = p.message.rrn.get();
        match p.message.mti {
            Mti::FinancialResponse | Mti::StatusInquiryResponse => {
                // The core decides: an answer while reversing changes nothing (the reversal
                // decides), one while inquiring is late, "not found" settles nothing.
                let Some(w) = self.waiting.get_mut(&id) else { return };
                let code =
                    p.message.response.unwrap_or(ResponseCode::Declined(Decline::SwitchError));
                if let Some(c) = w.originator.on_answer(code) {
                    self.finish(id, c.outcome);
                }
            }
            Mti::ReversalAdviceResponse => {
                let Some(w) = self.waiting.get_mut(&id) else { return };
                let code = p.message.response.unwrap_or(ResponseCode::Approved);
                if let Some(outcome) = w.originator.on_reversal_ack(code) {
                    self.finish(id, outcome);
                }
            }
            Mti::FinancialRequest => {
                let far = self.credits.entry(id).or_default();
                if far.deciding.is_some() {
                    return; // A duplicate while the first is being decided.
                }
                let answer = match far.side.phase() {
                    FarPhase::NotArrived => None,
                    FarPhase::Credited { .. } => Some(ResponseCode::Approved),
                    FarPhase::Declined(d) => Some(ResponseCode::Declined(d)),
                    FarPhase::Reversed => Some(ResponseCode::Declined(Decline::Reversed)),
                };
                match answer {
                    Some(code) => self.send(respond(&p, code)),
                    None => {
                        far.deciding = Some(Box::new(p));
                        let rng = &mut self.rng;
                        let delay = Duration::from_nanos(
                            self.setup.far_delay.iter().map(|l| l.sample_ns(rng)).sum(),
                        );
                        after(inbox, scaled(delay, self.setup.speedup), Inbound::Decided(id));
                    }
                }
            }
            Mti::ReversalAdvice => {
                let far = self.credits.entry(id).or_default();
                let code = match far.side.on_reversal(false) {
                    ReversalStep::ReverseCredit { .. } => far.side.on_credit_reversed(),
                    ReversalStep::Acknowledge(code) => code,
                    ReversalStep::Ignore => return,
                };
                self.send(respond(&p, code));
            }
            _ => {}
        }
    }

    fn on_decided(&mut self, id: u64) {
        let Some(far) = self.credits.get_mut(&id) else { return };
        let Some(p) = far.deciding.take() else { return };
        // The core decides: a reversal that came first declines it without a draw.
        let (rng, rates) = (&mut self.rng, &self.setup.rates);
        let flow = flow_of(&p).unwrap_or(Flow::Domestic);
        let step = far.side.on_request_with(|| {
            rates.get(&flow).and_then(|r| r.far_side_decline(flow, |_, ppm| rng.chance_ppm(ppm)))
        });
        let code = match step {
            RequestStep::Decline(d) => ResponseCode::Declined(d),
            RequestStep::Credit => {
                // The emulated credit always books; its id is the payment's.
                let _ = far.side.on_credit(Ok(()), TransferId(id));
                ResponseCode::Approved
            }
            RequestStep::AlreadyCredited => ResponseCode::Approved,
        };
        self.send(respond(&p, code));
    }
}
