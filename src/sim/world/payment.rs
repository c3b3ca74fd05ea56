//! A payment's life: arrival, scan and confirm, the hops of its route, the answer, timeouts,
//! inquiries, reversals, and its one final state.

use rust_decimal::Decimal;

use super::books::{self, Role};
use super::build::STREAM_PAYMENTS;
use super::config;
use super::stats::minute_of;
use super::{
    Code, Decline, Event, Hop, NodeKind, Outcome, PRef, Payment, Stage, World, credit_hop, route,
};
use crate::payments::clearing::{MessageKind, Party, Status};
use crate::payments::ledger::TransferId;
use crate::payments::money::{Currency, Money};
use crate::payments::network::far_side::{
    FarPhase, FarSide, RequestStep, ReversalStep as FarReversal,
};
use crate::payments::network::originator::{
    Conclusion, InquiryStep, Originator, ReversalStep as ReversalTimerStep, Timer,
};
use crate::payments::network::{ResponseCode, Terms, app};
use crate::payments::party::Flow;
use crate::payments::qr::{self, AmountInput, CodeKind, EncodeSpec};
use crate::payments::settlement::Fee;
use crate::payments::time::{Span, Timestamp, Zone};
use crate::record::INTERVAL_MINUTES;
use crate::record::flow::interval_histogram;
use crate::sim::audit::Breach;
use crate::sim::network::Delivery;
use crate::sim::rng::Prng;

/// What a retry carries over from the attempt before it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Carry {
    intent: u64,
    attempt: u8,
    payer: u32,
    payee: u32,
    amount: Money,
    fixed_payee: bool,
}

fn uniform_ns(rng: &mut Prng, range: [u64; 2]) -> u64 {
    range[0] + rng.below(range[1] - range[0] + 1)
}

impl World {
    pub(super) fn on_arrival(&mut self, now: Timestamp, fi: usize, group: bool) {
        if group {
            let f = &self.cfg.flows[fi];
            let (size, spread) = (f.burst_size, f.burst_spread_ns);
            let rng = &mut self.arrival_rng[fi][1];
            let k = size[0] + rng.below(u64::from(size[1] - size[0] + 1)) as u32;
            let spread_ns = uniform_ns(rng, spread);
            let payee = self.draw_payee(fi, &mut self.arrival_rng[fi][1].clone());
            let _ = self.arrival_rng[fi][1].next_u64();
            for _ in 0..k {
                let offset = Span::from_nanos(self.arrival_rng[fi][1].below(spread_ns.max(1)));
                let at = now.checked_add(offset).expect("in range");
                self.new_payment(at, fi, None, Some(payee));
            }
        } else {
            self.new_payment(now, fi, None, None);
        }
        if let Some(next) = self.next_arrival(now, fi, group) {
            self.schedule(next, Event::Arrival { flow: fi as u8, group });
        }
    }

    /// The next arrival of a flow's (single or group) non-homogeneous Poisson process: rates
    /// are constant within a minute, and memorylessness lets a draw that crosses a minute's end
    /// restart there.
    pub(super) fn next_arrival(
        &mut self,
        now: Timestamp,
        fi: usize,
        group: bool,
    ) -> Option<Timestamp> {
        let f = &self.cfg.flows[fi];
        let factor = if group {
            let mean_size = f64::from(f.burst_size[0] + f.burst_size[1]) / 2.0;
            f.burst_share / mean_size
        } else {
            1.0 - f.burst_share
        };
        let rng = &mut self.arrival_rng[fi][usize::from(group)];
        let mut t = now;
        loop {
            let m = minute_of(t, self.cfg.start);
            let rate = *f.per_minute.get(m)? * factor;
            let boundary = self.cfg.start.checked_add(Span::from_minutes(m as u64 + 1))?;
            if rate > 0.0 {
                let dt = rng.exponential_ns(60e9 / rate);
                let at = t.checked_add(Span::from_nanos(dt))?;
                if at < boundary {
                    return Some(at);
                }
            }
            t = boundary;
        }
    }

    fn draw_payee(&self, fi: usize, rng: &mut Prng) -> u32 {
        let table = match self.cfg.flows[fi].flow {
            Flow::Inward => &self.zipf[0],
            Flow::Outward => &self.zipf[1],
            Flow::Remittance => &self.zipf[2],
            Flow::Domestic => &self.zipf[3],
        };
        let u = rng.unit();
        table.partition_point(|&c| c <= u).min(table.len() - 1) as u32
    }

    fn population(&self, flow: Flow) -> (Role, Role) {
        match flow {
            Flow::Inward => (Role::InwardPayer, Role::InwardMerchant),
            Flow::Outward => (Role::OutwardPayer, Role::OutwardMerchant),
            Flow::Remittance => (Role::RemittanceSender, Role::RemittanceRecipient),
            Flow::Domestic => (Role::DomesticPayer, Role::DomesticMerchant),
        }
    }

    /// Creates a payment whose payer confirms after a think time (or, for a retry, after the
    /// retry delay).
    pub(super) fn new_payment(
        &mut self,
        now: Timestamp,
        fi: usize,
        carry: Option<Carry>,
        payee: Option<u32>,
    ) {
        if self.in_flight >= self.in_flight_max {
            self.stop = Some(super::Stop::Limit("payments_in_flight_max"));
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let mut rng = Prng::stream(self.payment_seed, STREAM_PAYMENTS | seq);
        let f = &self.cfg.flows[fi];
        let flow = f.flow;
        let (payer_role, payee_role) = self.population(flow);
        let carry = carry.unwrap_or_else(|| self.draw_purchase(fi, payee, &mut rng));
        let f = &self.cfg.flows[fi];
        let payer = self.books.customer(payer_role, carry.payer);
        let payee = self.books.customer(payee_role, carry.payee);
        let payer_currency = match flow {
            Flow::Inward => Currency::Cny,
            Flow::Outward => Currency::Khr,
            Flow::Remittance if carry.fixed_payee => {
                if rng.below(2) == 0 {
                    Currency::Khr
                } else {
                    Currency::Usd
                }
            }
            Flow::Remittance | Flow::Domestic => carry.amount.currency,
        };
        let payee_currency = match flow {
            Flow::Inward => Currency::Khr,
            Flow::Outward | Flow::Remittance => Currency::Cny,
            Flow::Domestic => carry.amount.currency,
        };
        let r = f.failures;
        let code = draw_code(f, &mut rng);
        let empty = rng.chance_ppm(r.insufficient_balance);
        let payer_wallet = if empty {
            match flow {
                Flow::Inward => self.books.issuer_empty[payer.at as usize],
                _ => self.books.bank_empty[payer.at as usize][payer_currency.index()],
            }
        } else {
            payer.wallet(payer_currency)
        };
        let think = if carry.attempt > 0 {
            Span::from_nanos(uniform_ns(&mut rng, f.retry_after_ns))
        } else if code == Code::Dynamic {
            Span::from_nanos(f.think_dynamic.sample_ns(&mut rng))
        } else {
            Span::from_nanos(f.think.sample_ns(&mut rng))
        };
        let payee_wallet = payee.wallet(payee_currency);
        let parties =
            Parties { payer_at: payer.at, payee_at: payee.at, payer_wallet, payee_wallet };
        let terms = payment_terms(flow, seq, parties, &carry, payer_currency, payee_currency);
        let payment = Payment {
            generation: 0,
            seq,
            fi: fi as u8,
            intent: carry.intent,
            attempt: carry.attempt,
            rng,
            payer: carry.payer,
            payee: carry.payee,
            payer_at: payer.at,
            payee_at: payee.at,
            code,
            terms,
            originator: Originator::default(),
            far: FarSide::default(),
            confirmed_at: now,
            held_at: now,
            hop: 0,
            stage: Stage::Thinking,
        };
        let p = self.allocate(payment);
        let stats = &mut self.stats[fi];
        stats.payments_count += 1;
        stats.retries_count += u64::from(carry.attempt > 0);
        self.audit.created();
        let at = now.checked_add(think).expect("in range");
        self.schedule(at, Event::Confirm(p));
    }

    /// A new purchase: who pays whom, how much.
    fn draw_purchase(&mut self, fi: usize, payee: Option<u32>, rng: &mut Prng) -> Carry {
        let flow = self.cfg.flows[fi].flow;
        let (payer_role, _) = self.population(flow);
        let payers = self.books.customers[&(payer_role as u8)].len() as u64;
        let payer = rng.below(payers) as u32;
        let payee = payee.unwrap_or_else(|| self.draw_payee(fi, rng));
        let f = &self.cfg.flows[fi];
        let fixed_payee = flow == Flow::Remittance && rng.chance_ppm(f.auspicious);
        let amount = if fixed_payee {
            f.auspicious_cny[rng.below(f.auspicious_cny.len() as u64) as usize]
        } else {
            f.amounts_for(rng).sample(rng)
        };
        self.next_intent += 1;
        Carry { intent: self.next_intent, attempt: 0, payer, payee, amount, fixed_payee }
    }

    fn allocate(&mut self, mut payment: Payment) -> PRef {
        self.in_flight += 1;
        self.in_flight_by_flow[payment.fi as usize] += 1;
        if let Some(slot) = self.free.pop() {
            let generation = self.slots[slot as usize].generation.wrapping_add(1);
            payment.generation = generation;
            self.slots[slot as usize] = payment;
            PRef { slot, generation }
        } else {
            let slot = self.slots.len() as u32;
            self.slots.push(payment);
            PRef { slot, generation: 0 }
        }
    }

    /// The merchant's static code.
    fn static_code(&self, pay: &Payment) -> &str {
        let i = pay.payee as usize;
        match pay.flow() {
            Flow::Inward => &self.codes.inward_static[i],
            Flow::Outward => &self.codes.outward[i],
            Flow::Domestic => {
                &self.codes.domestic[i][usize::from(pay.terms.amount.currency == Currency::Usd)]
            }
            Flow::Remittance => "",
        }
    }

    /// The payload the payer's app scans when it is not the static code, made by the QR core.
    fn payload(&self, pay: &Payment, now: Timestamp) -> String {
        let base = self.static_code(pay).to_string();
        let now_ms = now.as_millis();
        match pay.code {
            Code::Static => base,
            Code::Dynamic | Code::Expired
                if base.starts_with("000201") && pay.flow() != Flow::Outward =>
            {
                let (created, expires) = if pay.code == Code::Expired {
                    (now_ms - 600_000, now_ms - 300_000)
                } else {
                    (now_ms, now_ms + 300_000)
                };
                let decoded = qr::decode(&base).expect("our own codes decode");
                let currency = if pay.terms.amount.currency == Currency::Usd { 840 } else { 116 };
                let spec = EncodeSpec {
                    kind: CodeKind::Merchant,
                    account_id: decoded.account_id().map(str::to_string),
                    merchant_name: decoded.get(59).map(str::to_string),
                    merchant_city: decoded.get(60).map(str::to_string),
                    merchant_id: decoded.merchant_id().map(str::to_string),
                    acquiring_bank: decoded.acquiring_bank().map(str::to_string),
                    currency_numeric: Some(currency),
                    amount: Some(AmountInput::Text(pay.terms.amount.to_decimal().to_string())),
                    upi_account: decoded.upi_account().map(str::to_string),
                    created_at_ms: Some(created),
                    expires_at_ms: Some(expires),
                    ..EncodeSpec::default()
                };
                qr::encode(&spec).expect("dynamic specs are valid")
            }
            Code::Dynamic | Code::Expired => base,
            Code::Malformed => {
                // A damaged print: one character of the merchant name changed, CRC left alone.
                let mut bytes = base.into_bytes();
                let at = bytes.len() / 2;
                bytes[at] = if bytes[at] == b'#' { b'%' } else { b'#' };
                String::from_utf8(bytes).expect("ASCII")
            }
        }
    }

    /// What the payer's app makes of the code: `None` to go ahead, or why it refuses.
    fn scan(&self, pay: &Payment, now: Timestamp) -> Option<Decline> {
        if pay.flow() == Flow::Remittance {
            return None;
        }
        let owned;
        let payload: &str = if pay.code == Code::Static {
            self.static_code(pay)
        } else {
            owned = self.payload(pay, now);
            &owned
        };
        app::scan(pay.flow(), payload, now.as_millis())
    }

    pub(super) fn on_confirm(&mut self, now: Timestamp, p: PRef) {
        let Some(pay) = self.payment(p) else { return };
        let fi = pay.fi as usize;
        let abandon = self.cfg.flows[fi].abandon;
        let refusal = self.scan(pay, now);
        let pay = self.payment_mut(p).expect("alive");
        if pay.rng.chance_ppm(abandon) {
            self.finalize(now, p, Outcome::Abandoned).expect("an abandoned payment has no effects");
            return;
        }
        pay.confirmed_at = now;
        pay.stage = Stage::InNetwork;
        let m = minute_of(now, self.cfg.start);
        let last = self.minutes[fi].len() - 1;
        self.minutes[fi][m.min(last)].offered += 1;
        if let Some(decline) = refusal {
            self.finalize(now, p, Outcome::Declined(decline)).expect("nothing booked yet");
            return;
        }
        let dup_rate = self.cfg.flows[fi].duplicate_tap;
        let dup_tap = self.payment_mut(p).expect("alive").rng.chance_ppm(dup_rate);
        let delivery = self.send(super::LinkKind::PayerApp, now);
        match delivery.first() {
            Some(at) => {
                self.deliver(p, 0, delivery);
                if dup_tap {
                    let later = at.checked_add(Span::from_millis(300)).expect("in range");
                    self.schedule(later, Event::Arrive { p, hop: 0, dup: true });
                }
            }
            None => {
                // The app never reached its bank: it gives up after its timeout.
                let at = now.checked_add(self.cfg.app_timeout).expect("in range");
                let code = ResponseCode::Declined(Decline::IssuerUnavailable);
                self.schedule(at, Event::Response(p, code));
            }
        }
    }

    /// A request reaches hop `hop` as the link delivered it: once, twice (the second a
    /// duplicate the core must absorb), or not at all.
    fn deliver(&mut self, p: PRef, hop: u8, delivery: Delivery) {
        match delivery {
            Delivery::Lost => {}
            Delivery::Delivered(at) => self.schedule(at, Event::Arrive { p, hop, dup: false }),
            Delivery::Duplicated(at, again) => {
                self.schedule(at, Event::Arrive { p, hop, dup: false });
                self.schedule(again, Event::Arrive { p, hop, dup: true });
            }
        }
    }

    pub(super) fn on_arrive(&mut self, now: Timestamp, p: PRef, hop: u8, dup: bool) {
        let Some(pay) = self.payment(p) else { return };
        let h = route(pay.flow())[hop as usize];
        let node = self.node_of(h, pay);
        self.node_arrive(now, node, p, hop, dup);
    }

    /// Draws a technical failure at a node: `rate` scaled by the node's degraded window.
    fn draw(&mut self, p: PRef, rate: config::Ppm, node: usize, now: Timestamp) -> bool {
        let rate = self.node_window(node, now).map_or(rate, |w| w.scale(rate));
        self.payment_mut(p).expect("alive").rng.chance_ppm(rate)
    }

    /// A request finished service at `hop` on `node`: the hop's part of the payment.
    pub(super) fn on_hop(
        &mut self,
        now: Timestamp,
        node: usize,
        p: PRef,
        hop: u8,
        dup: bool,
    ) -> Result<(), Breach> {
        let Some(pay) = self.payment(p) else { return Ok(()) };
        let (flow, fi) = (pay.flow(), pay.fi as usize);
        if dup || pay.hop > hop {
            self.absorb_duplicate(now, p, hop);
            return Ok(());
        }
        self.payment_mut(p).expect("alive").hop = hop;
        let r = self.cfg.flows[fi].failures;
        let h: Hop = route(flow)[hop as usize];
        if hop == 0 {
            if let Err(decline) = self.originate(now, node, p) {
                self.respond(now, p, 0, ResponseCode::Declined(decline), Span::ZERO);
                return Ok(());
            }
        } else if (h.node == NodeKind::Upi
            || (flow == Flow::Domestic && h.node == NodeKind::Switch))
            && self.draw(p, r.switch_error, node, now)
        {
            let code = ResponseCode::Declined(Decline::SwitchError);
            self.respond(now, p, hop, code, Span::ZERO);
            return Ok(());
        }
        let mut extra = Span::ZERO;
        if hop == credit_hop(flow) {
            if let Err(decline) = self.far_side_request(now, node, p) {
                self.respond(now, p, hop, ResponseCode::Declined(decline), Span::ZERO);
                return Ok(());
            }
            extra = self.late_answer(now, node, p);
        }
        if (hop as usize) + 1 < route(flow).len() {
            let next = route(flow)[hop as usize + 1];
            let delivery = self.send(next.link, now);
            self.deliver(p, hop + 1, delivery);
        } else {
            self.respond(now, p, hop, ResponseCode::Approved, extra);
        }
        Ok(())
    }

    /// A duplicate request: the core absorbs it, booking the hold or the credit again under the
    /// same ids (the ledger's idempotency returns the first outcome).
    fn absorb_duplicate(&mut self, now: Timestamp, p: PRef, hop: u8) {
        let pay = self.payment(p).expect("alive").clone();
        self.stats[pay.fi as usize].duplicates_absorbed_count += 1;
        if hop == 0
            && let Some(hold) = pay.originator.on_duplicate()
        {
            let until = pay.held_at.checked_add(self.cfg.hold).expect("in range");
            let commands = pay.terms.hold_commands(&self.books, hold, until);
            let _ = self.books.ledger.execute_linked(&commands, now);
        }
        if hop == credit_hop(pay.flow())
            && let Some(credit) = pay.far.on_duplicate()
        {
            let id = if self.sabotage.rebook_duplicates {
                TransferId(self.books.ids(2))
            } else {
                credit
            };
            let commands = pay.terms.credit_commands(&self.books, id);
            let _ = self.books.ledger.execute_linked(&commands, now);
        }
    }

    /// The originator's own decision: PIN, limit and risk declines drawn from the payment's
    /// stream in that order, then the host's availability (scaled by a degraded window).
    fn originator_decision(&mut self, now: Timestamp, node: usize, p: PRef) -> Option<Decline> {
        let r = self.cfg.flows[self.payment(p).expect("alive").fi as usize].failures;
        for (rate, decline) in [
            (r.pin_failure, Decline::PinFailure),
            (r.limit_exceeded, Decline::LimitExceeded),
            (r.risk_decline, Decline::RiskDecline),
        ] {
            if self.payment_mut(p).expect("alive").rng.chance_ppm(rate) {
                return Some(decline);
            }
        }
        self.draw(p, r.issuer_unavailable, node, now).then_some(Decline::IssuerUnavailable)
    }

    /// The originator authorises: its decision, then for a cross-border payment the FX quote
    /// and the hold on the payer's funds; then it waits, with its timeout set.
    fn originate(&mut self, now: Timestamp, node: usize, p: PRef) -> Result<(), Decline> {
        let decision = self.originator_decision(now, node, p);
        let fi = self.payment(p).expect("alive").fi as usize;
        self.payment_mut(p).expect("alive").originator.on_request(decision)?;
        let (timer, after) = if self.payment(p).expect("alive").flow() == Flow::Domestic {
            let policy = &self.cfg.flows[fi].policy;
            alive_mut(&mut self.slots, p).originator.on_authorised(policy)
        } else {
            self.quote(now, p);
            let first = TransferId(self.books.ids(2));
            let until = now.checked_add(self.cfg.hold).expect("in range");
            let pay = alive_mut(&mut self.slots, p);
            // The hold lives from when it is placed (a duplicate request reuses the instant).
            pay.held_at = now;
            let commands = pay.terms.hold_commands(&self.books, first, until);
            let result = self.books.ledger.execute_linked(&commands, now).map_err(|(_, r)| r);
            let policy = &self.cfg.flows[fi].policy;
            alive_mut(&mut self.slots, p).originator.on_hold(result, first, policy)?
        };
        self.after(after, Event::Originator(p, timer));
        Ok(())
    }

    /// The originator's FX quote at UPI's rate, locked into the payment's terms.
    fn quote(&mut self, now: Timestamp, p: PRef) {
        let terms = self.payment(p).expect("alive").terms;
        let request = terms.quote_request(now, self.cfg.quote_ttl).expect("a cross-border flow");
        let quote =
            self.books.rates.quote(request).expect("UPI publishes every pair from the start");
        let converted = terms.converted(&quote, now).expect("amounts are positive and in range");
        self.payment_mut(p).expect("alive").terms = converted;
    }

    /// The far side's decision: the payee's account invalid, then a technical error (not
    /// domestic), each drawn only when the one before did not decline.
    fn far_side_decision(&mut self, now: Timestamp, node: usize, p: PRef) -> Option<Decline> {
        let pay = self.payment(p).expect("alive");
        let (flow, r) = (pay.flow(), self.cfg.flows[pay.fi as usize].failures);
        if self.draw(p, r.merchant_invalid, node, now) {
            Some(Decline::MerchantInvalid)
        } else if self.draw(p, r.acquirer_error, node, now) && flow != Flow::Domestic {
            Some(Decline::AcquirerError)
        } else {
            None
        }
    }

    /// The request at the far side: declined there, or the payee credited.
    fn far_side_request(&mut self, now: Timestamp, node: usize, p: PRef) -> Result<(), Decline> {
        let mut far = self.payment(p).expect("alive").far;
        let step = far.on_request_with(|| self.far_side_decision(now, node, p));
        self.payment_mut(p).expect("alive").far = far;
        match step {
            RequestStep::Decline(d) => Err(d),
            RequestStep::Credit => self.credit(now, p),
        }
    }

    /// A late approval: the far side answers after the originator's timeout (drawn after the
    /// credit, with a degraded window's rate when there is one).
    fn late_answer(&mut self, now: Timestamp, node: usize, p: PRef) -> Span {
        let fi = self.payment(p).expect("alive").fi as usize;
        let r = self.cfg.flows[fi].failures;
        let late_rate =
            self.node_window(node, now).and_then(|w| w.late_approval).unwrap_or(r.late_approval);
        let timeout = self.cfg.flows[fi].policy.timeout;
        let pay = self.payment_mut(p).expect("alive");
        if pay.rng.chance_ppm(late_rate) {
            Span::from_nanos(timeout.as_nanos() + 1_000_000_000 + pay.rng.below(9_000_000_000))
        } else {
            Span::ZERO
        }
    }

    /// The far side books the payee's credit (and, inward, the merchant discount).
    fn credit(&mut self, now: Timestamp, p: PRef) -> Result<(), Decline> {
        let first = TransferId(self.books.ids(2));
        let mdr = Fee { bps: self.inward_mdr_bps };
        let pay = alive_mut(&mut self.slots, p);
        pay.terms = pay.terms.with_merchant_discount(mdr).expect("in range");
        let commands = pay.terms.credit_commands(&self.books, first);
        let result = self.books.ledger.execute_linked(&commands, now).map_err(|(_, r)| r);
        let pay = self.payment_mut(p).expect("alive");
        pay.far.on_credit(result, first)?;
        let (seq, received) = (pay.seq, pay.terms.received().minor);
        self.obligations(now, p, false);
        self.audit.credited(seq, received);
        Ok(())
    }

    /// Netting obligations and UPI ⇄ NBC amounts of a credit (or, `undo`, of its reversal).
    fn obligations(&mut self, now: Timestamp, p: PRef, undo: bool) {
        let terms = self.payment(p).expect("alive").terms;
        let cycle = self.cfg.netting.cycle_of(now, &self.kh_calendar);
        let o = terms.obligations(books::NBC, undo);
        self.books.oblige(cycle, o.netting.payer, o.netting.payee, o.netting.amount);
        if let Some(s) = o.scheme {
            self.books.scheme(now.date_at(Zone::BEIJING), s.amount, s.to_nbc);
        }
    }

    /// The answer travels back from `from_hop` to the originator; the switch and UPI record it
    /// as it passes them.
    pub(super) fn respond(
        &mut self,
        now: Timestamp,
        p: PRef,
        from_hop: u8,
        code: ResponseCode,
        extra: Span,
    ) {
        let Some(pay) = self.payment(p) else { return };
        let flow = pay.flow();
        let hops = route(flow);
        let mut t = now.checked_add(extra).expect("in range");
        let (mut at_switch, mut at_upi) = (None, None);
        let mut lost = false;
        let mark = |kind: NodeKind,
                    t: Timestamp,
                    s: &mut Option<Timestamp>,
                    u: &mut Option<Timestamp>| match kind {
            NodeKind::Gateway => *s = Some(t),
            NodeKind::Upi => *u = Some(t),
            _ => {}
        };
        mark(hops[from_hop as usize].node, t, &mut at_switch, &mut at_upi);
        for h in (1..=from_hop as usize).rev() {
            match self.send(hops[h].link, t).first() {
                Some(at) => t = at,
                None => {
                    lost = true;
                    break;
                }
            }
            mark(hops[h - 1].node, t, &mut at_switch, &mut at_upi);
        }
        let both = matches!(flow, Flow::Inward | Flow::Outward | Flow::Remittance)
            && from_hop >= if flow == Flow::Inward { 2 } else { 3 };
        if both {
            let status =
                if code == ResponseCode::Approved { Status::Approved } else { Status::Declined };
            let loss_time = t;
            self.record(
                p,
                MessageKind::Purchase,
                at_switch.map_or((loss_time, Status::TimedOut), |x| (x, status)),
                at_upi.map_or((loss_time, Status::TimedOut), |x| (x, status)),
            );
        }
        if !lost {
            self.schedule(t, Event::Response(p, code));
        }
    }

    /// The merchant code's md5, the key Bakong looks payments up by (none for URL codes).
    fn qr_md5(&self, pay: &Payment) -> String {
        match pay.flow() {
            Flow::Inward => qr::md5_hex(&self.codes.inward_static[pay.payee as usize]),
            Flow::Outward if self.codes.outward[pay.payee as usize].starts_with("000201") => {
                qr::md5_hex(&self.codes.outward[pay.payee as usize])
            }
            _ => String::new(),
        }
    }

    /// Writes the switch's and UPI's clearing records of a message, injecting the scenario's
    /// exceptions into UPI's.
    fn record(
        &mut self,
        p: PRef,
        kind: MessageKind,
        switch: (Timestamp, Status),
        upi: (Timestamp, Status),
    ) {
        let pay = self.payment(p).expect("alive");
        let md5 = self.qr_md5(pay);
        let credit = match pay.far.phase() {
            FarPhase::Credited { credit } => credit,
            _ => TransferId(0),
        };
        let ours = pay.terms.clearing_record(Party::Switch, kind, switch, credit, md5.clone());
        let mut theirs = pay.terms.clearing_record(Party::Upi, kind, upi, credit, md5);
        let seq = pay.seq;
        if switch.1 != upi.1 || switch.0.date_at(Zone::BEIJING) != upi.0.date_at(Zone::BEIJING) {
            self.eventful.insert(seq);
        }
        let [missing_network, missing_switch, duplicate, mismatch, status] = self.exceptions;
        let rng = &mut self.exceptions_rng;
        let mut injected = false;
        let mut push_ours = true;
        let mut copies = 1;
        if kind == MessageKind::Purchase {
            if rng.chance_ppm(missing_network) {
                copies = 0;
                injected = true;
            } else if rng.chance_ppm(missing_switch) {
                push_ours = false;
                injected = true;
            } else if rng.chance_ppm(duplicate) {
                copies = 2;
                injected = true;
            } else if rng.chance_ppm(mismatch) {
                theirs.amount = Money::new(
                    theirs.amount.currency,
                    theirs.amount.minor + 1 + rng.below(5) as i64,
                );
                injected = true;
            } else if rng.chance_ppm(status) && theirs.status == Status::Approved {
                theirs.status = Status::Declined;
                injected = true;
            }
        }
        if injected {
            self.exceptions_injected += 1;
            self.eventful.insert(seq);
        }
        if push_ours {
            self.books.clearing_switch.push(ours);
        }
        for _ in 0..copies {
            self.books.clearing_upi.push(theirs.clone());
        }
    }

    /// An answer (the 0210, or a 0610 with the original's outcome) reaches the originator.
    pub(super) fn on_answer(
        &mut self,
        now: Timestamp,
        p: PRef,
        code: ResponseCode,
    ) -> Result<(), Breach> {
        let Some(pay) = self.payment_mut(p) else { return Ok(()) };
        let Some(conclusion) = pay.originator.on_answer(code) else { return Ok(()) };
        self.conclude(now, p, conclusion)
    }

    /// The originator has its answer: post or void the hold, tell the payer.
    fn conclude(&mut self, now: Timestamp, p: PRef, c: Conclusion) -> Result<(), Breach> {
        if let Some(hold) = c.hold {
            let post = c.post || self.sabotage.post_declined_holds;
            self.settle_hold(now, p, hold, post);
        }
        let pay = self.payment(p).expect("alive");
        let (fi, confirmed_at) = (pay.fi as usize, pay.confirmed_at);
        let app = self.send(super::LinkKind::PayerApp, now).first().unwrap_or(now);
        let latency_us = (app.saturating_since(confirmed_at).as_nanos() / 1000).max(1);
        let stats = &mut self.stats[fi];
        if Span::from_nanos(latency_us * 1000) > self.cfg.app_timeout {
            stats.payer_timeouts_count += 1;
        }
        stats.latency_answered.saturating_record(latency_us);
        if c.outcome.is_approved() {
            stats.latency_approved.saturating_record(latency_us);
            let interval = (minute_of(now, self.cfg.start) as u64 / INTERVAL_MINUTES) as usize;
            if stats.intervals.len() <= interval {
                stats.intervals.resize_with(interval + 1, interval_histogram);
            }
            stats.intervals[interval].saturating_record(latency_us);
        }
        self.minute_latency[fi].saturating_record(latency_us);
        self.finalize(now, p, c.outcome)
    }

    /// Posts or voids the hold whose first id is `hold`.
    fn settle_hold(&mut self, now: Timestamp, p: PRef, hold: TransferId, post: bool) {
        let first = TransferId(self.books.ids(2));
        let pay = self.payment(p).expect("alive");
        let commands = pay.terms.settle_hold_commands(hold, first, post);
        let seq = pay.seq;
        if let Err((i, reject)) = self.books.ledger.execute_linked(&commands, now) {
            panic!("hold settlement refused at {i}: {reject:?} for payment {seq}");
        }
    }

    /// One of the originator's timers fired.
    pub(super) fn on_originator_timer(
        &mut self,
        now: Timestamp,
        p: PRef,
        timer: Timer,
    ) -> Result<(), Breach> {
        let Some(pay) = self.payment(p) else { return Ok(()) };
        let fi = pay.fi as usize;
        match timer {
            Timer::Timeout { epoch } => {
                let pay = self.payment_mut(p).expect("alive");
                if let Some(first) = pay.originator.on_timeout(epoch) {
                    let seq = pay.seq;
                    self.eventful.insert(seq);
                    self.after(Span::ZERO, Event::Originator(p, first));
                }
            }
            Timer::Inquiry { n } => {
                let policy = &self.cfg.flows[fi].policy;
                let step = alive_mut(&mut self.slots, p).originator.on_inquiry_timer(n, policy);
                match step {
                    InquiryStep::Stale => {}
                    InquiryStep::Reverse { void } => self.start_reversal(now, p, void),
                    InquiryStep::Send { next, after } => {
                        if let Some(at) = self.toward_far(p, now) {
                            self.schedule(at, Event::InquiryAtFar(p));
                        }
                        self.after(after, Event::Originator(p, next));
                    }
                }
            }
            Timer::Reversal { attempt } => {
                let policy = &self.cfg.flows[fi].policy;
                let step =
                    alive_mut(&mut self.slots, p).originator.on_reversal_timer(attempt, policy);
                match step {
                    ReversalTimerStep::Stale => {}
                    ReversalTimerStep::Manual => return self.finalize(now, p, Outcome::Manual),
                    ReversalTimerStep::Send { next, after } => {
                        if let Some(at) = self.toward_far(p, now) {
                            self.schedule(at, Event::ReversalAtFar(p));
                        }
                        self.after(after, Event::Originator(p, next));
                    }
                }
            }
        }
        Ok(())
    }

    /// Sends a message from the originator to the credit hop: when it arrives, if it does.
    fn toward_far(&mut self, p: PRef, now: Timestamp) -> Option<Timestamp> {
        let flow = self.payment(p)?.flow();
        let mut t = now;
        for h in 1..=credit_hop(flow) as usize {
            t = self.send(route(flow)[h].link, t).first()?;
        }
        Some(t)
    }

    fn back_from_far(&mut self, p: PRef, now: Timestamp) -> Option<Timestamp> {
        let flow = self.payment(p)?.flow();
        let mut t = now;
        for h in (1..=credit_hop(flow) as usize).rev() {
            t = self.send(route(flow)[h].link, t).first()?;
        }
        Some(t)
    }

    /// A 0600 reaches the far side: it answers with what it did.
    pub(super) fn on_inquiry_at_far(&mut self, now: Timestamp, p: PRef) {
        let Some(pay) = self.payment(p) else { return };
        let code = pay.far.on_inquiry();
        if let Some(at) = self.back_from_far(p, now) {
            self.schedule(at, Event::InquiryAnswer(p, code));
        }
    }

    /// Inquiries are over: void the hold, and send the first reversal advice at the next free
    /// slot of the reversal drain rate.
    fn start_reversal(&mut self, now: Timestamp, p: PRef, void: Option<TransferId>) {
        if let Some(hold) = void {
            self.settle_hold(now, p, hold, false);
        }
        let at = now.max(self.reversal_slot);
        self.reversal_slot = at.checked_add(self.cfg.reversal_gap).expect("in range");
        let first = self.payment(p).expect("alive").originator.first_reversal();
        self.schedule(at, Event::Originator(p, first));
    }

    /// A 0420 reaches the far side: refused (a technical failure drawn from the payment's
    /// stream), or it reverses a credit it booked and acknowledges.
    pub(super) fn on_reversal_at_far(&mut self, now: Timestamp, p: PRef) -> Result<(), Breach> {
        let refuse = self.cfg.reversal_fail;
        let Some(pay) = self.payment_mut(p) else { return Ok(()) };
        let refused = pay.rng.chance_ppm(refuse);
        let code = match pay.far.on_reversal(refused) {
            FarReversal::Ignore => return Ok(()),
            FarReversal::Acknowledge(code) => code,
            FarReversal::ReverseCredit { .. } => {
                self.reverse_credit(now, p)?;
                if self.sabotage.reverse_twice {
                    self.reverse_credit(now, p)?;
                }
                self.payment_mut(p).expect("alive").far.on_credit_reversed()
            }
        };
        if let Some(at) = self.back_from_far(p, now) {
            self.schedule(at, Event::ReversalAck(p, code));
        }
        Ok(())
    }

    /// Books the reversal of the payee's credit, its obligations and its clearing records.
    fn reverse_credit(&mut self, now: Timestamp, p: PRef) -> Result<(), Breach> {
        let pay = self.payment(p).expect("alive");
        self.audit.reversing(pay.seq, pay.terms.received().minor)?;
        let first = TransferId(self.books.ids(2));
        let pay = self.payment(p).expect("alive");
        let commands = pay.terms.credit_reversal_commands(&self.books, first);
        let seq = pay.seq;
        if let Err((i, reject)) = self.books.ledger.execute_linked(&commands, now) {
            panic!("reversal refused at {i}: {reject:?} for payment {seq}");
        }
        self.obligations(now, p, true);
        if self.payment(p).expect("alive").flow() != Flow::Domestic {
            self.record(p, MessageKind::Reversal, (now, Status::Approved), (now, Status::Approved));
        }
        Ok(())
    }

    /// The 0430 reaches the originator.
    pub(super) fn on_reversal_ack(
        &mut self,
        now: Timestamp,
        p: PRef,
        code: ResponseCode,
    ) -> Result<(), Breach> {
        let Some(pay) = self.payment_mut(p) else { return Ok(()) };
        match pay.originator.on_reversal_ack(code) {
            Some(outcome) => self.finalize(now, p, outcome),
            None => Ok(()),
        }
    }

    /// The payment's one final state: the auditor hears its economic effects, the stats count
    /// it, the slot is freed, and the payer may retry.
    pub(super) fn finalize(
        &mut self,
        now: Timestamp,
        p: PRef,
        outcome: Outcome,
    ) -> Result<(), Breach> {
        let pay = self.payment(p).expect("alive");
        let t = &pay.terms;
        let paid = t.exchanged().checked_add(t.spread()).expect("in range").minor;
        let payee_gets = t.received().minor - t.fee.minor;
        let domestic = t.flow == Flow::Domestic;
        let mut effects = [(t.payer_wallet, 0), (t.payee_wallet, 0)];
        let credited = matches!(pay.far.phase(), FarPhase::Credited { .. });
        if outcome.is_approved() || (outcome == Outcome::Manual && credited) {
            let debit = if domestic { t.amount.minor } else { paid };
            if outcome.is_approved() || domestic {
                effects[0].1 = -debit;
            }
            effects[1].1 = payee_gets;
        }
        let (seq, fi) = (pay.seq, pay.fi as usize);
        self.audit.finalized(seq, || outcome.name(), &effects)?;
        if self.sabotage.finalize_twice && outcome.is_approved() {
            self.audit.finalized(seq, || outcome.name(), &[])?;
        }
        let stats = &mut self.stats[fi];
        *stats.outcomes.entry(outcome).or_insert(0) += 1;
        let m = minute_of(now, self.cfg.start).min(self.minutes[fi].len() - 1);
        let minute = &mut self.minutes[fi][m];
        if outcome != Outcome::Abandoned {
            minute.completed += 1;
        }
        match outcome {
            Outcome::Approved | Outcome::ApprovedLate => minute.approved += 1,
            Outcome::Declined(d) => {
                minute.declined += 1;
                let class =
                    Decline::ALL.iter().position(|&x| x == d).expect("every class is listed");
                minute.declined_by_class[class] += 1;
            }
            Outcome::Reversed | Outcome::Manual => minute.timed_out += 1,
            Outcome::Abandoned => {}
        }
        let retry = self.retry_of(now, p, outcome);
        self.payment_mut(p).expect("alive").stage = Stage::Final;
        self.free.push(p.slot);
        self.in_flight -= 1;
        self.in_flight_by_flow[fi] -= 1;
        if let Some(carry) = retry {
            self.new_payment(now, fi, Some(carry), None);
        }
        Ok(())
    }

    /// Whether the payer tries again after this outcome, and with what.
    fn retry_of(&mut self, now: Timestamp, p: PRef, outcome: Outcome) -> Option<Carry> {
        let retryable = match outcome {
            Outcome::Declined(d) => !matches!(d, Decline::MalformedQr | Decline::MerchantInvalid),
            Outcome::Reversed | Outcome::Manual => true,
            _ => false,
        };
        let retries_max = self.retries_max;
        let end = self.cfg.end;
        let pay = self.payment(p).expect("alive");
        if !retryable || u32::from(pay.attempt) >= retries_max || now >= end {
            return None;
        }
        let rate = self.cfg.flows[pay.fi as usize].retry;
        let pay = self.payment_mut(p).expect("alive");
        if !pay.rng.chance_ppm(rate) {
            return None;
        }
        Some(Carry {
            intent: pay.intent,
            attempt: pay.attempt + 1,
            payer: pay.payer,
            payee: pay.payee,
            amount: pay.terms.amount,
            fixed_payee: pay.flow() == Flow::Remittance
                && pay.terms.amount.currency == Currency::Cny,
        })
    }
}

/// The live payment `p` among `slots`, for borrowing it beside the world's configuration.
///
/// # Panics
/// If the payment is not alive: callers have just checked it is.
fn alive_mut(slots: &mut [Payment], p: PRef) -> &mut Payment {
    slots
        .get_mut(p.slot as usize)
        .filter(|x| x.generation == p.generation && x.stage != Stage::Final)
        .expect("alive")
}

/// Where a payment's two customers are.
#[derive(Clone, Copy, Debug)]
struct Parties {
    payer_at: u16,
    payee_at: u16,
    payer_wallet: crate::payments::ledger::AccountId,
    payee_wallet: crate::payments::ledger::AccountId,
}

/// A new payment's terms, before the originator quotes any conversion.
fn payment_terms(
    flow: Flow,
    seq: u64,
    parties: Parties,
    carry: &Carry,
    payer_currency: Currency,
    payee_currency: Currency,
) -> Terms {
    let Parties { payer_at, payee_at, payer_wallet, payee_wallet } = parties;
    let (payer_participant, payee_participant) = match flow {
        Flow::Inward => (books::issuer(payer_at), books::bank(payee_at)),
        Flow::Outward => (books::bank(payer_at), books::CN_ACQUIRERS[payee_at as usize]),
        Flow::Remittance => (books::bank(payer_at), books::issuer(payee_at)),
        Flow::Domestic => (books::bank(payer_at), books::bank(payee_at)),
    };
    Terms {
        flow,
        reference: seq,
        payer_wallet,
        payee_wallet,
        payer_participant,
        payee_participant,
        amount: carry.amount,
        payer_currency,
        payee_amount_fixed: flow != Flow::Remittance || carry.fixed_payee,
        conversion: None,
        rate: Decimal::ONE,
        fee: Money::zero(payee_currency),
    }
}

/// Which code the payer's app will scan.
fn draw_code(f: &super::config::FlowConfig, rng: &mut Prng) -> Code {
    let r = f.failures;
    if rng.chance_ppm(r.malformed_qr) {
        Code::Malformed
    } else if rng.chance_ppm(r.expired_qr) {
        Code::Expired
    } else if rng.chance_ppm(f.dynamic) {
        Code::Dynamic
    } else {
        Code::Static
    }
}
