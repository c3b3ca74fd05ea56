//! A payment's life: arrival, scan and confirm, the hops of its route, the answer, timeouts,
//! inquiries, reversals, and its one final state.

use rust_decimal::Decimal;

use super::books::{self, Role};
use super::build::STREAM_PAYMENTS;
use super::config;
use super::stats::minute_of;
use super::{
    Answer, Code, Decline, Event, Far, Hop, NodeKind, Outcome, PRef, Payment, State, World,
    credit_hop, route,
};
use crate::payments::clearing::{ClearingRecord, MessageKind, Party, Rrn, Status};
use crate::payments::fx::{QuoteRequest, RateSource, RoundingRule};
use crate::payments::ledger::{Command, Transfer, TransferId, TransferReject};
use crate::payments::money::{Currency, Money};
use crate::payments::party::Flow;
use crate::payments::qr::{self, AmountInput, CodeKind, EncodeSpec, Mode, PayloadKind};
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
        let zero = |c| Money::zero(c);
        let payment = Payment {
            generation: 0,
            seq,
            fi: fi as u8,
            flow,
            intent: carry.intent,
            attempt: carry.attempt,
            rng,
            payer: carry.payer,
            payee: carry.payee,
            payer_wallet,
            payee_wallet: payee.wallet(payee_currency),
            payer_at: payer.at,
            payee_at: payee.at,
            code,
            amount: carry.amount,
            exchanged: zero(payer_currency),
            spread: zero(payer_currency),
            fee: zero(payee_currency),
            received: if flow == Flow::Domestic { carry.amount } else { zero(payee_currency) },
            rate: Decimal::ONE,
            quote: 0,
            hold_id: 0,
            credit_id: 0,
            confirmed_at: now,
            held_at: now,
            hop: 0,
            state: State::Thinking,
            far: Far::NotArrived,
            held: false,
            epoch: 0,
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
        match pay.flow {
            Flow::Inward => &self.codes.inward_static[i],
            Flow::Outward => &self.codes.outward[i],
            Flow::Domestic => {
                &self.codes.domestic[i][usize::from(pay.amount.currency == Currency::Usd)]
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
                if base.starts_with("000201") && pay.flow != Flow::Outward =>
            {
                let (created, expires) = if pay.code == Code::Expired {
                    (now_ms - 600_000, now_ms - 300_000)
                } else {
                    (now_ms, now_ms + 300_000)
                };
                let decoded = qr::decode(&base).expect("our own codes decode");
                let currency = if pay.amount.currency == Currency::Usd { 840 } else { 116 };
                let spec = EncodeSpec {
                    kind: CodeKind::Merchant,
                    account_id: decoded.account_id().map(str::to_string),
                    merchant_name: decoded.get(59).map(str::to_string),
                    merchant_city: decoded.get(60).map(str::to_string),
                    merchant_id: decoded.merchant_id().map(str::to_string),
                    acquiring_bank: decoded.acquiring_bank().map(str::to_string),
                    currency_numeric: Some(currency),
                    amount: Some(AmountInput::Text(pay.amount.to_decimal().to_string())),
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
        if pay.flow == Flow::Remittance {
            return None;
        }
        let owned;
        let payload: &str = if pay.code == Code::Static {
            self.static_code(pay)
        } else {
            owned = self.payload(pay, now);
            &owned
        };
        // One decode serves the classification, the verification and the UnionPay check.
        let now_ms = now.as_millis();
        let (kind, decoded) = qr::classify_decoded(payload);
        let accepted = match pay.flow {
            // A UnionPay wallet pays KHQR codes that carry a UnionPay account (tag 15).
            Flow::Inward => kind == PayloadKind::Khqr,
            // A Bakong app in China pays WeChat Pay and UnionPay codes.
            Flow::Outward => matches!(kind, PayloadKind::WechatUrl | PayloadKind::Emvco),
            Flow::Domestic => kind == PayloadKind::Khqr,
            Flow::Remittance => true,
        };
        if !accepted {
            return Some(Decline::MalformedQr);
        }
        let decoded = decoded?;
        match decoded.verify(now_ms, Mode::Strict) {
            Ok(()) => {}
            Err(v) if v.rule.sdk_code() == Some(qr::ErrorCode::KhqrExpired) => {
                return Some(Decline::ExpiredQr);
            }
            Err(_) => return Some(Decline::MalformedQr),
        }
        if pay.flow == Flow::Inward && decoded.upi_account().is_none() {
            return Some(Decline::MalformedQr);
        }
        None
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
        pay.state = State::Waiting;
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
                self.schedule(at, Event::Response(p, Answer::Declined(Decline::IssuerUnavailable)));
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
        let h = route(pay.flow)[hop as usize];
        let node = self.node_of(h, pay);
        self.node_arrive(now, node, p, hop, dup);
    }

    pub(super) fn advance(&mut self, node: usize, now: Timestamp) {
        let n = &mut self.nodes[node];
        let dt = u128::from(now.saturating_since(n.last_change).as_nanos());
        n.stats.busy_ns += dt * u128::from(n.busy);
        n.stats.in_system_ns += dt * (u128::from(n.busy) + n.queue.len() as u128);
        n.last_change = now;
    }

    fn service_ns(&mut self, node: usize, now: Timestamp) -> u64 {
        let slowed = self
            .node_window(node, now)
            .map(|w| self.nodes[node].service.slowed(w.median_permille, w.p99_permille));
        let n = &mut self.nodes[node];
        slowed.as_ref().unwrap_or(&n.service).sample_ns(&mut n.rng)
    }

    fn node_arrive(&mut self, now: Timestamp, node: usize, p: PRef, hop: u8, dup: bool) {
        self.advance(node, now);
        let n = &mut self.nodes[node];
        if n.busy < n.servers {
            n.busy += 1;
            let ns = self.service_ns(node, now);
            let at = now.checked_add(Span::from_nanos(ns)).expect("in range");
            self.schedule(at, Event::Done { node: node as u32, p, hop, dup, arrived: now });
        } else if n.queue.len() < n.queue_max as usize {
            n.queue.push_back((p, hop, dup, now));
            n.stats.queue_len_max = n.stats.queue_len_max.max(n.queue.len() as u64);
            n.minute_queue_max = n.minute_queue_max.max(n.queue.len() as u32);
        } else {
            n.stats.refused_count += 1;
            if !dup {
                self.respond(now, p, hop, Answer::Declined(Decline::NodeOverloaded), Span::ZERO);
            }
        }
    }

    pub(super) fn on_done(
        &mut self,
        now: Timestamp,
        node: usize,
        p: PRef,
        hop: u8,
        dup: bool,
        arrived: Timestamp,
    ) -> Result<(), Breach> {
        self.advance(node, now);
        let sojourn = now.saturating_since(arrived).as_nanos();
        let n = &mut self.nodes[node];
        n.stats.served_count += 1;
        n.stats.sojourn_ns += u128::from(sojourn);
        if let Some((next, next_hop, next_dup, next_arrived)) = n.queue.pop_front() {
            let ns = self.service_ns(node, now);
            let at = now.checked_add(Span::from_nanos(ns)).expect("in range");
            let event = Event::Done {
                node: node as u32,
                p: next,
                hop: next_hop,
                dup: next_dup,
                arrived: next_arrived,
            };
            self.schedule(at, event);
        } else {
            n.busy -= 1;
        }
        if let Some(pay) = self.payment(p) {
            let fi = pay.fi as usize;
            self.stats[fi].hops[hop as usize].latency_us.saturating_record((sojourn / 1000).max(1));
        }
        self.on_hop(now, node, p, hop, dup)
    }

    /// Draws a technical failure at a node: `rate` scaled by the node's degraded window.
    fn draw(&mut self, p: PRef, rate: config::Ppm, node: usize, now: Timestamp) -> bool {
        let rate = self.node_window(node, now).map_or(rate, |w| w.scale(rate));
        self.payment_mut(p).expect("alive").rng.chance_ppm(rate)
    }

    /// A request finished service at `hop` on `node`: the hop's part of the payment.
    fn on_hop(
        &mut self,
        now: Timestamp,
        node: usize,
        p: PRef,
        hop: u8,
        dup: bool,
    ) -> Result<(), Breach> {
        let Some(pay) = self.payment(p) else { return Ok(()) };
        let (flow, fi) = (pay.flow, pay.fi as usize);
        if dup || pay.hop > hop {
            self.absorb_duplicate(now, p, hop);
            return Ok(());
        }
        self.payment_mut(p).expect("alive").hop = hop;
        let r = self.cfg.flows[fi].failures;
        let h: Hop = route(flow)[hop as usize];
        if hop == 0 {
            if let Some(decline) = self.originate(now, node, p) {
                self.respond(now, p, 0, Answer::Declined(decline), Span::ZERO);
                return Ok(());
            }
        } else if (h.node == NodeKind::Upi
            || (flow == Flow::Domestic && h.node == NodeKind::Switch))
            && self.draw(p, r.switch_error, node, now)
        {
            self.respond(now, p, hop, Answer::Declined(Decline::SwitchError), Span::ZERO);
            return Ok(());
        }
        let mut extra = Span::ZERO;
        if hop == credit_hop(flow) {
            let pay = self.payment(p).expect("alive");
            if pay.far == Far::Reversed {
                self.respond(now, p, hop, Answer::Declined(Decline::Reversed), Span::ZERO);
                return Ok(());
            }
            let decline = if self.draw(p, r.merchant_invalid, node, now) {
                Some(Decline::MerchantInvalid)
            } else if self.draw(p, r.acquirer_error, node, now) && flow != Flow::Domestic {
                Some(Decline::AcquirerError)
            } else {
                self.credit(now, p).err()
            };
            if let Some(d) = decline {
                self.payment_mut(p).expect("alive").far = Far::Declined(d);
                self.respond(now, p, hop, Answer::Declined(d), Span::ZERO);
                return Ok(());
            }
            let late_rate = self
                .node_window(node, now)
                .and_then(|w| w.late_approval)
                .unwrap_or(r.late_approval);
            let timeout = self.cfg.flows[fi].originator_timeout;
            let pay = self.payment_mut(p).expect("alive");
            if pay.rng.chance_ppm(late_rate) {
                extra = Span::from_nanos(
                    timeout.as_nanos() + 1_000_000_000 + pay.rng.below(9_000_000_000),
                );
            }
        }
        if (hop as usize) + 1 < route(flow).len() {
            let next = route(flow)[hop as usize + 1];
            let delivery = self.send(next.link, now);
            self.deliver(p, hop + 1, delivery);
        } else {
            self.respond(now, p, hop, Answer::Approved, extra);
        }
        Ok(())
    }

    /// A duplicate request: the core must absorb it (the ledger's idempotency does).
    fn absorb_duplicate(&mut self, now: Timestamp, p: PRef, hop: u8) {
        let pay = self.payment(p).expect("alive").clone();
        self.stats[pay.fi as usize].duplicates_absorbed_count += 1;
        if hop == 0 && pay.held {
            let commands = self.hold_commands(&pay, pay.hold_id);
            let _ = self.books.ledger.execute_linked(&commands, now);
        }
        if hop == credit_hop(pay.flow) && pay.far == Far::Credited {
            let id =
                if self.sabotage.rebook_duplicates { self.books.ids(2) } else { pay.credit_id };
            let commands = self.credit_commands(&pay, id);
            let _ = self.books.ledger.execute_linked(&commands, now);
        }
    }

    fn hold_commands(&self, pay: &Payment, first: u64) -> Vec<Command> {
        let until = Some(pay.held_at.checked_add(self.cfg.hold).expect("in range"));
        let position = self.books.upi_position[pay.exchanged.currency.index()];
        let mut commands = vec![Command::Transfer(Transfer {
            pending_until: until,
            ..Transfer::posted(
                TransferId(first),
                pay.payer_wallet,
                position,
                pay.exchanged,
                pay.seq,
            )
        })];
        if pay.spread.minor > 0 {
            let fee = self.books.bank_fee[pay.payer_at as usize][pay.spread.currency.index()];
            commands.push(Command::Transfer(Transfer {
                pending_until: until,
                ..Transfer::posted(
                    TransferId(first + 1),
                    pay.payer_wallet,
                    fee,
                    pay.spread,
                    pay.seq,
                )
            }));
        }
        commands
    }

    fn credit_commands(&self, pay: &Payment, first: u64) -> Vec<Command> {
        let t = |offset: u64, debit, credit, amount| {
            Command::Transfer(Transfer::posted(
                TransferId(first + offset),
                debit,
                credit,
                amount,
                pay.seq,
            ))
        };
        match pay.flow {
            Flow::Domestic => vec![t(0, pay.payer_wallet, pay.payee_wallet, pay.amount)],
            Flow::Inward => {
                let position = self.books.upi_position[Currency::Khr.index()];
                let mut c = vec![t(0, position, pay.payee_wallet, pay.received)];
                if pay.fee.minor > 0 {
                    let fee = self.books.bank_fee[pay.payee_at as usize][Currency::Khr.index()];
                    c.push(t(1, pay.payee_wallet, fee, pay.fee));
                }
                c
            }
            Flow::Outward | Flow::Remittance => {
                let position = self.books.upi_position[Currency::Cny.index()];
                vec![t(0, position, pay.payee_wallet, pay.received)]
            }
        }
    }

    /// The originator: its own declines, the FX quote, and the hold on the payer's funds.
    fn originate(&mut self, now: Timestamp, node: usize, p: PRef) -> Option<Decline> {
        let pay = self.payment(p).expect("alive");
        let (flow, fi) = (pay.flow, pay.fi as usize);
        let r = self.cfg.flows[fi].failures;
        for (rate, decline) in [
            (r.pin_failure, Decline::PinFailure),
            (r.limit_exceeded, Decline::LimitExceeded),
            (r.risk_decline, Decline::RiskDecline),
        ] {
            if self.payment_mut(p).expect("alive").rng.chance_ppm(rate) {
                return Some(decline);
            }
        }
        if self.draw(p, r.issuer_unavailable, node, now) {
            return Some(Decline::IssuerUnavailable);
        }
        if flow != Flow::Domestic {
            self.quote(now, p);
            let first = self.books.ids(2);
            // The hold lives from when it is placed (a duplicate request reuses the instant).
            self.payment_mut(p).expect("alive").held_at = now;
            let pay = self.payment(p).expect("alive");
            let (commands, seq) = (self.hold_commands(pay, first), pay.seq);
            match self.books.ledger.execute_linked(&commands, now) {
                Ok(()) => {}
                Err((_, TransferReject::InsufficientFunds)) => {
                    return Some(Decline::InsufficientBalance);
                }
                Err((i, reject)) => {
                    panic!("hold refused at command {i}: {reject:?} for payment {seq}")
                }
            }
            let pay = self.payment_mut(p).expect("alive");
            pay.hold_id = first;
            pay.held = true;
        }
        let pay = self.payment(p).expect("alive");
        let at = now.checked_add(self.cfg.flows[fi].originator_timeout).expect("in range");
        self.schedule(at, Event::Timeout(p, pay.epoch));
        None
    }

    fn quote(&mut self, now: Timestamp, p: PRef) {
        let pay = self.payment(p).expect("alive");
        let (from, to, participant, fixed_payee) = match pay.flow {
            Flow::Inward => (Currency::Cny, Currency::Khr, books::issuer(pay.payer_at), true),
            Flow::Outward => (Currency::Khr, Currency::Cny, books::bank(pay.payer_at), true),
            _ => (
                pay.exchanged.currency,
                Currency::Cny,
                books::bank(pay.payer_at),
                pay.amount.currency == Currency::Cny,
            ),
        };
        let request = QuoteRequest {
            from,
            to,
            source: RateSource::Scheme,
            participant,
            flow: pay.flow,
            rounding: RoundingRule::TOWARD_PROVIDER,
            now,
            ttl: self.cfg.quote_ttl,
        };
        let amount = pay.amount;
        let quote =
            self.books.rates.quote(request).expect("UPI publishes every pair from the start");
        let conversion = if fixed_payee {
            quote.convert_for_payee(amount, now)
        } else {
            quote.convert_from_payer(amount, now)
        }
        .expect("amounts are positive and in range");
        let pay = self.payment_mut(p).expect("alive");
        pay.exchanged = conversion.exchanged;
        pay.spread = conversion.spread;
        pay.received = conversion.received;
        pay.rate = quote.rate;
        pay.quote = quote.id.0;
    }

    /// The far side books the payee's credit (and, inward, the merchant discount).
    fn credit(&mut self, now: Timestamp, p: PRef) -> Result<(), Decline> {
        let first = self.books.ids(2);
        let mdr = Fee { bps: self.inward_mdr_bps };
        let pay = self.payment_mut(p).expect("alive");
        if pay.flow == Flow::Inward {
            pay.received = pay.amount;
            pay.fee = mdr.on(pay.amount).expect("in range");
        }
        let pay = self.payment(p).expect("alive");
        let commands = self.credit_commands(pay, first);
        let (seq, received, flow) = (pay.seq, pay.received.minor, pay.flow);
        match self.books.ledger.execute_linked(&commands, now) {
            Ok(()) => {}
            Err((_, TransferReject::InsufficientFunds)) if flow == Flow::Domestic => {
                return Err(Decline::InsufficientBalance);
            }
            Err((i, reject)) => {
                panic!("credit refused at command {i}: {reject:?} for payment {seq}")
            }
        }
        self.obligations(now, p, false);
        let pay = self.payment_mut(p).expect("alive");
        pay.credit_id = first;
        pay.far = Far::Credited;
        self.audit.credited(seq, received);
        Ok(())
    }

    /// Netting obligations and UPI ⇄ NBC amounts of a credit (or, `undo`, of its reversal).
    fn obligations(&mut self, now: Timestamp, p: PRef, undo: bool) {
        let pay = self.payment(p).expect("alive");
        let cycle = self.cfg.netting.cycle_of(now, &self.kh_calendar);
        let date = now.date_at(Zone::BEIJING);
        let (payer, payee, amount) = match pay.flow {
            Flow::Domestic => (books::bank(pay.payer_at), books::bank(pay.payee_at), pay.amount),
            Flow::Inward => (books::NBC, books::bank(pay.payee_at), pay.received),
            Flow::Outward | Flow::Remittance => {
                (books::bank(pay.payer_at), books::NBC, pay.exchanged)
            }
        };
        let (flow, received, exchanged) = (pay.flow, pay.received, pay.exchanged);
        let (payer, payee) = if undo { (payee, payer) } else { (payer, payee) };
        self.books.oblige(cycle, payer, payee, amount);
        let sign = if undo { -1 } else { 1 };
        match flow {
            Flow::Inward => {
                self.books.scheme(date, Money::new(received.currency, sign * received.minor), true)
            }
            Flow::Outward | Flow::Remittance => {
                self.books.scheme(
                    date,
                    Money::new(exchanged.currency, sign * exchanged.minor),
                    false,
                );
            }
            Flow::Domestic => {}
        }
    }

    /// The answer travels back from `from_hop` to the originator; the switch and UPI record it
    /// as it passes them.
    pub(super) fn respond(
        &mut self,
        now: Timestamp,
        p: PRef,
        from_hop: u8,
        answer: Answer,
        extra: Span,
    ) {
        let Some(pay) = self.payment(p) else { return };
        let flow = pay.flow;
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
            let status = match answer {
                Answer::Approved => Status::Approved,
                Answer::Declined(_) => Status::Declined,
            };
            let loss_time = t;
            self.record(
                p,
                MessageKind::Purchase,
                at_switch.map_or((loss_time, Status::TimedOut), |x| (x, status)),
                at_upi.map_or((loss_time, Status::TimedOut), |x| (x, status)),
            );
        }
        if !lost {
            self.schedule(t, Event::Response(p, answer));
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
        let rrn = Rrn::new(pay.seq % (Rrn::MAX + 1)).expect("in range");
        let md5 = match pay.flow {
            Flow::Inward => qr::md5_hex(&self.codes.inward_static[pay.payee as usize]),
            Flow::Outward if self.codes.outward[pay.payee as usize].starts_with("000201") => {
                qr::md5_hex(&self.codes.outward[pay.payee as usize])
            }
            _ => String::new(),
        };
        let (amount, billed) =
            (pay.received, pay.exchanged.checked_add(pay.spread).expect("in range"));
        let fee = if pay.flow == Flow::Inward { pay.fee } else { pay.spread };
        let make = |party, (at, status): (Timestamp, Status)| ClearingRecord {
            party,
            business_date: at.date_at(Zone::BEIJING),
            kind,
            rrn,
            trace_number: (pay.seq % 1_000_000) as u32,
            original_rrn: (kind != MessageKind::Purchase).then_some(rrn),
            payment_id: pay.seq,
            transfer_id: pay.credit_id,
            quote_id: pay.quote,
            qr_md5: md5.clone(),
            amount,
            billed,
            fx_rate: pay.rate,
            fee,
            status,
            at,
        };
        let ours = make(Party::Switch, switch);
        let mut theirs = make(Party::Upi, upi);
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

    pub(super) fn on_response(
        &mut self,
        now: Timestamp,
        p: PRef,
        answer: Answer,
    ) -> Result<(), Breach> {
        let Some(pay) = self.payment(p) else { return Ok(()) };
        match pay.state {
            State::Waiting => self.conclude(now, p, answer, false),
            State::Inquiring => self.conclude(now, p, answer, true),
            _ => Ok(()),
        }
    }

    /// The originator has its answer: post or void the hold, tell the payer.
    fn conclude(
        &mut self,
        now: Timestamp,
        p: PRef,
        answer: Answer,
        late: bool,
    ) -> Result<(), Breach> {
        let pay = self.payment(p).expect("alive");
        let post = answer == Answer::Approved || (self.sabotage.post_declined_holds && pay.held);
        if pay.held {
            self.settle_hold(now, p, post);
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
        if answer == Answer::Approved {
            stats.latency_approved.saturating_record(latency_us);
            let interval = (minute_of(now, self.cfg.start) as u64 / INTERVAL_MINUTES) as usize;
            if stats.intervals.len() <= interval {
                stats.intervals.resize_with(interval + 1, interval_histogram);
            }
            stats.intervals[interval].saturating_record(latency_us);
        }
        self.minute_latency[fi].saturating_record(latency_us);
        let outcome = match (answer, late) {
            (Answer::Approved, false) => Outcome::Approved,
            (Answer::Approved, true) => Outcome::ApprovedLate,
            (Answer::Declined(d), _) => Outcome::Declined(d),
        };
        self.finalize(now, p, outcome)
    }

    fn settle_hold(&mut self, now: Timestamp, p: PRef, post: bool) {
        let first = self.books.ids(2);
        let pay = self.payment(p).expect("alive");
        let mut commands = vec![];
        for (i, held) in [(0, true), (1, pay.spread.minor > 0)] {
            if held {
                let (id, pending) = (TransferId(first + i), TransferId(pay.hold_id + i));
                commands.push(if post {
                    Command::Post { id, pending, amount: None }
                } else {
                    Command::Void { id, pending }
                });
            }
        }
        let seq = pay.seq;
        if let Err((i, reject)) = self.books.ledger.execute_linked(&commands, now) {
            panic!("hold settlement refused at {i}: {reject:?} for payment {seq}");
        }
        self.payment_mut(p).expect("alive").held = false;
    }

    pub(super) fn on_timeout(&mut self, p: PRef, epoch: u8) {
        let Some(pay) = self.payment_mut(p) else { return };
        if pay.state != State::Waiting || pay.epoch != epoch {
            return;
        }
        pay.state = State::Inquiring;
        let seq = pay.seq;
        self.eventful.insert(seq);
        self.after(Span::ZERO, Event::Inquiry(p, 1));
    }

    /// Sends a message from the originator to the credit hop: when it arrives, if it does.
    fn toward_far(&mut self, p: PRef, now: Timestamp) -> Option<Timestamp> {
        let flow = self.payment(p)?.flow;
        let mut t = now;
        for h in 1..=credit_hop(flow) as usize {
            t = self.send(route(flow)[h].link, t).first()?;
        }
        Some(t)
    }

    fn back_from_far(&mut self, p: PRef, now: Timestamp) -> Option<Timestamp> {
        let flow = self.payment(p)?.flow;
        let mut t = now;
        for h in (1..=credit_hop(flow) as usize).rev() {
            t = self.send(route(flow)[h].link, t).first()?;
        }
        Some(t)
    }

    pub(super) fn on_inquiry(&mut self, now: Timestamp, p: PRef, n: u16) {
        if self.payment_in(p, State::Inquiring).is_none() {
            return;
        }
        if u32::from(n) > self.cfg.inquiries_max {
            self.start_reversal(now, p);
            return;
        }
        if let Some(at) = self.toward_far(p, now) {
            self.schedule(at, Event::InquiryAtFar(p));
        }
        self.after(self.cfg.inquiry_every, Event::Inquiry(p, n.saturating_add(1)));
    }

    pub(super) fn on_inquiry_at_far(&mut self, now: Timestamp, p: PRef) {
        let Some(pay) = self.payment(p) else { return };
        let answer = match pay.far {
            Far::Credited => Some(Answer::Approved),
            Far::Declined(d) => Some(Answer::Declined(d)),
            Far::NotArrived | Far::Reversed => None,
        };
        if let Some(at) = self.back_from_far(p, now) {
            self.schedule(at, Event::InquiryAnswer(p, answer));
        }
    }

    pub(super) fn on_inquiry_answer(
        &mut self,
        now: Timestamp,
        p: PRef,
        answer: Option<Answer>,
    ) -> Result<(), Breach> {
        let Some(pay) = self.payment(p) else { return Ok(()) };
        match (pay.state, answer) {
            (State::Inquiring, Some(a)) => self.conclude(now, p, a, true),
            _ => Ok(()),
        }
    }

    fn start_reversal(&mut self, now: Timestamp, p: PRef) {
        if self.payment(p).expect("alive").held {
            self.settle_hold(now, p, false);
        }
        let pay = self.payment_mut(p).expect("alive");
        pay.state = State::Reversing;
        pay.epoch = pay.epoch.wrapping_add(1);
        let at = now.max(self.reversal_slot);
        self.reversal_slot = at.checked_add(self.cfg.reversal_gap).expect("in range");
        self.schedule(at, Event::ReversalSend(p, 0));
    }

    pub(super) fn on_reversal_send(&mut self, now: Timestamp, p: PRef, attempt: u8) {
        if self.payment_in(p, State::Reversing).is_none() {
            return;
        }
        if let Some(at) = self.toward_far(p, now) {
            self.schedule(at, Event::ReversalAtFar(p));
        }
        let backoff = self.cfg.reversal_backoff[attempt as usize];
        self.after(backoff, Event::ReversalRetry(p, attempt + 1));
    }

    pub(super) fn on_reversal_at_far(&mut self, now: Timestamp, p: PRef) -> Result<(), Breach> {
        if self.payment_in(p, State::Reversing).is_none() {
            return Ok(());
        }
        let refuse = self.cfg.reversal_fail;
        if self.payment_mut(p).expect("alive").rng.chance_ppm(refuse) {
            return Ok(());
        }
        let pay = self.payment(p).expect("alive");
        match pay.far {
            Far::Credited => {
                self.reverse_credit(now, p)?;
                if self.sabotage.reverse_twice {
                    self.reverse_credit(now, p)?;
                }
            }
            Far::NotArrived => self.payment_mut(p).expect("alive").far = Far::Reversed,
            Far::Declined(_) | Far::Reversed => {}
        }
        if let Some(at) = self.back_from_far(p, now) {
            self.schedule(at, Event::ReversalAck(p));
        }
        Ok(())
    }

    fn reverse_credit(&mut self, now: Timestamp, p: PRef) -> Result<(), Breach> {
        let pay = self.payment(p).expect("alive");
        self.audit.reversing(pay.seq, pay.received.minor)?;
        let first = self.books.ids(2);
        let pay = self.payment(p).expect("alive");
        // The credit's legs the other way round, fee first so the merchant never dips below 0.
        let mut commands: Vec<Command> = self
            .credit_commands(pay, first)
            .into_iter()
            .map(|c| match c {
                Command::Transfer(t) => {
                    Command::Transfer(Transfer { debit: t.credit, credit: t.debit, ..t })
                }
                other => other,
            })
            .collect();
        commands.reverse();
        let seq = pay.seq;
        if let Err((i, reject)) = self.books.ledger.execute_linked(&commands, now) {
            panic!("reversal refused at {i}: {reject:?} for payment {seq}");
        }
        self.obligations(now, p, true);
        if self.payment(p).expect("alive").flow != Flow::Domestic {
            self.record(p, MessageKind::Reversal, (now, Status::Approved), (now, Status::Approved));
        }
        self.payment_mut(p).expect("alive").far = Far::Reversed;
        Ok(())
    }

    pub(super) fn on_reversal_ack(&mut self, now: Timestamp, p: PRef) -> Result<(), Breach> {
        let Some(pay) = self.payment_in(p, State::Reversing) else { return Ok(()) };
        let outcome = match pay.far {
            Far::Declined(d) => Outcome::Declined(d),
            _ => Outcome::Reversed,
        };
        self.finalize(now, p, outcome)
    }

    pub(super) fn on_reversal_retry(
        &mut self,
        now: Timestamp,
        p: PRef,
        attempt: u8,
    ) -> Result<(), Breach> {
        if self.payment_in(p, State::Reversing).is_none() {
            return Ok(());
        }
        if (attempt as usize) < self.cfg.reversal_backoff.len() {
            self.on_reversal_send(now, p, attempt);
            Ok(())
        } else {
            self.finalize(now, p, Outcome::Manual)
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
        let paid = pay.exchanged.checked_add(pay.spread).expect("in range").minor;
        let payee_gets = pay.received.minor - pay.fee.minor;
        let domestic = pay.flow == Flow::Domestic;
        let mut effects = [(pay.payer_wallet, 0), (pay.payee_wallet, 0)];
        let credited = pay.far == Far::Credited;
        if outcome.is_approved() || (outcome == Outcome::Manual && credited) {
            let debit = if domestic { pay.amount.minor } else { paid };
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
        self.payment_mut(p).expect("alive").state = State::Final;
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
            amount: pay.amount,
            fixed_payee: pay.flow == Flow::Remittance && pay.amount.currency == Currency::Cny,
        })
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
