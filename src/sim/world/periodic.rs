//! What happens on the clock rather than per payment: rate moves and UPI's publications,
//! netting cut-offs, the per-minute series, and the end of the run (final netting, UPI ⇄ NBC
//! settlement, reconciliation, the auditor's last checks).

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::ClearingSink;
use super::minute_of;
use super::{Event, Node, Stage, World, config};
use crate::payments::clearing::ClearingRecord;
use crate::payments::fx::Pair;
use crate::payments::ledger::TransferId;
use crate::payments::money::{Currency, Money};
use crate::payments::network::far_side::FarPhase;
use crate::payments::party::Flow;
use crate::payments::recon::{ReconConfig, reconcile};
use crate::payments::settlement::{
    CycleId, SettlementRefusal, net_positions, scheme_settlement, scheme_settlement_command,
    settlement_commands,
};
use crate::payments::time::{Date, Span, Timestamp, Zone};
use crate::record::{
    FxMids, Incident, IncidentKind, LedgerSize, MidMove, MinuteStats, RunRecord, Stop,
};
use crate::sim::audit::{Breach, InFlight};
use crate::sim::network::standard_normal;

const PAIRS: [Pair; 2] =
    [Pair::new(Currency::Usd, Currency::Cny), Pair::new(Currency::Usd, Currency::Khr)];

impl World {
    pub(super) fn on_fx_step(&mut self, now: Timestamp) {
        for (k, pair) in PAIRS.into_iter().enumerate() {
            let sigma = self.fx.sigma_bps_per_step[k];
            if sigma <= 0.0 {
                continue;
            }
            let bps = (standard_normal(&mut self.fx.rng) * sigma).round() as i32;
            let (floor, ceiling) = self.fx.band[k];
            self.books.rates.shock_mid(pair, now, bps, floor, ceiling).expect("the pair has a mid");
        }
        if now < self.cfg.hard_end {
            let step = self.fx.step;
            self.after(step, Event::FxStep);
        }
    }

    pub(super) fn on_fx_shock(&mut self, now: Timestamp, i: usize) {
        let config::Shock { pair: k, move_bps: bps, .. } = self.fx.shocks[i];
        let (floor, ceiling) = self.fx.band[k];
        self.books.rates.shock_mid(PAIRS[k], now, bps, floor, ceiling).expect("the pair has a mid");
    }

    /// UPI publishes its rates (11:00 Beijing on business days): the cardholder pairs at the
    /// mid less its margin, the settlement pairs to USD at the mid.
    pub(super) fn on_scheme_publish(&mut self, now: Timestamp, _i: usize) {
        let r = &mut self.books.rates;
        let cny = r.mid(PAIRS[0], now).expect("set at the start");
        let khr = r.mid(PAIRS[1], now).expect("set at the start");
        let keep = Decimal::ONE - Decimal::new(i64::from(self.fx.scheme_margin_bps), 4);
        let dp = |d: Decimal| d.round_dp(12);
        let steps = [
            (Pair::new(Currency::Cny, Currency::Khr), dp(khr / cny * keep)),
            (Pair::new(Currency::Khr, Currency::Cny), dp(cny / khr * keep)),
            (Pair::new(Currency::Usd, Currency::Cny), dp(cny * keep)),
            (Pair::new(Currency::Khr, Currency::Usd), dp(Decimal::ONE / khr)),
            (Pair::new(Currency::Cny, Currency::Usd), dp(Decimal::ONE / cny)),
        ];
        for (pair, rate) in steps {
            r.publish_scheme(pair, now, rate).expect("rates are positive and in time order");
        }
    }

    /// A Bakong netting cut-off: the cycle that closes now is netted and settled on the ledger,
    /// and the auditor checks every ledger invariant.
    pub(super) fn on_cutoff(&mut self, now: Timestamp, _i: usize) -> Result<(), Breach> {
        let just_before = Timestamp::from_nanos(now.as_nanos() - 1);
        let cycle = self.cfg.netting.cycle_of(just_before, &self.kh_calendar);
        self.settle_cycle(now, cycle);
        let positions = self.nettings.last().expect("just settled").clone();
        self.liquidity_new_cycle(now, &positions)?;
        if self.sabotage.unbalanced_entry && self.nettings.len() == 1 {
            let account = self.books.nbc_suspense[0];
            self.books.ledger.sabotage_unbalanced_credit(account, 1);
        }
        self.audit.check_ledger(&self.books.ledger, now)
    }

    fn settle_cycle(&mut self, now: Timestamp, cycle: CycleId) {
        let obligations = self.books.take_obligations(cycle);
        let positions =
            net_positions(cycle, &obligations).expect("aggregated obligations are positive");
        // One transfer per participant and currency with a position.
        let legs = positions.iter().filter(|(_, m)| m.minor != 0).count() as u64;
        let first = self.books.ids(legs);
        let chains = settlement_commands(&positions, &self.books, TransferId(first), 0)
            .expect("every participant has settlement accounts");
        for (currency, chain) in chains {
            match self.books.ledger.execute_linked(&chain, now) {
                Ok(_) => {
                    for (participant, amount) in positions.iter() {
                        if amount.currency == currency && amount.minor != 0 {
                            self.audit.settled(participant, amount);
                        }
                    }
                    if self.sabotage.settle_cycles_twice {
                        let again: Vec<_> = chain
                            .iter()
                            .map(|c| match *c {
                                crate::payments::ledger::Command::Transfer(mut t) => {
                                    t.id = TransferId(self.books.ids(1));
                                    crate::payments::ledger::Command::Transfer(t)
                                }
                                other => other,
                            })
                            .collect();
                        let _ = self.books.ledger.execute_linked(&again, now);
                    }
                }
                Err((command_index, reject)) => {
                    self.netting_refusals.push(SettlementRefusal {
                        cycle,
                        currency,
                        command_index,
                        reject,
                    });
                }
            }
        }
        self.nettings.push(positions);
    }

    pub(super) fn on_minute(
        &mut self,
        now: Timestamp,
        sink: Option<&mut (dyn ClearingSink + '_)>,
    ) -> Result<(), Breach> {
        self.books.ledger.expire(now);
        let horizon = now.saturating_before(self.retention());
        self.books.ledger.retire(horizon);
        self.close_clearing_days(Some(horizon), sink)?;
        self.liquidity_minute();
        let m = minute_of(now, self.cfg.start).saturating_sub(1);
        for fi in 0..self.minutes.len() {
            let h = &mut self.minute_latency[fi];
            let last = self.minutes[fi].len() - 1;
            let cell: &mut MinuteStats = &mut self.minutes[fi][m.min(last)];
            cell.in_flight = self.in_flight_by_flow[fi];
            if !h.is_empty() {
                // The flow's whole-run histogram of the same latencies: its bucket arithmetic.
                let shape = &self.stats[fi].latency_answered;
                cell.latency_us_p50 = h.value_at_quantile(shape, 0.5);
                cell.latency_us_p99 = h.value_at_quantile(shape, 0.99);
                cell.latency_us_p999 = h.value_at_quantile(shape, 0.999);
            }
            h.clear();
        }
        for i in 0..self.nodes.len() {
            self.advance(i, now);
            let n = &mut self.nodes[i];
            let snapshot = n.snapshot();
            n.minutes.push(snapshot);
        }
        if now < self.cfg.hard_end {
            self.after(Span::from_minutes(1), Event::Minute);
        }
        Ok(())
    }

    /// The ledger's retention horizon, which is also how long after a business date's end its
    /// clearing records may still come (both cover a payment's life).
    fn retention(&self) -> Span {
        Span::from_secs(u64::from(self.cfg.limits.ledger_retention_hours) * 3600)
    }

    /// Ends the run: nets what is left, settles UPI ⇄ NBC, reconciles, audits.
    pub(super) fn finish(
        mut self,
        sink: Option<&mut (dyn ClearingSink + '_)>,
    ) -> Result<RunRecord, Breach> {
        let stop = self.stop.clone().unwrap_or(if self.in_flight == 0 {
            Stop::Drained
        } else {
            Stop::DrainTimeUp { in_flight: self.in_flight }
        });
        // A run stopped by a limit ends where it stopped; one that ran out of traffic ends no
        // earlier than the end of its arrivals and no later than the end of its drain (the
        // loop stops on the first event beyond it, which may be an hour later: an hourly rate
        // step, say, and the whole-run figures must not count that hour).
        let now = match stop {
            Stop::Limit(_) => self.queue.now(),
            _ => self.queue.now().min(self.cfg.hard_end).max(self.cfg.end),
        };
        for n in 0..self.nodes.len() {
            self.advance(n, now);
        }
        let open: Vec<CycleId> = self.books.obligations.keys().copied().collect();
        for cycle in open {
            self.settle_cycle(now, cycle);
        }
        let scheme_settlements = self.settle_scheme(now);
        self.close_clearing_days(None, sink)?;
        for stats in &mut self.stats {
            stats.close_interval();
        }
        let in_flight = self.in_flight_effects();
        self.audit.finish(&self.books.ledger, now, &in_flight)?;
        let fx_end = [0, 1].map(|k| self.books.rates.mid(PAIRS[k], now).expect("set"));
        let liquidity = self.liquidity_record();
        let incidents = self.incidents();
        let income = self.books.income();
        Ok(RunRecord {
            scenario: self.cfg.name.clone(),
            seed: self.cfg.seed,
            start: self.cfg.start,
            end: self.cfg.end,
            finished_at: now,
            zone: self.cfg.zone,
            stop,
            events_count: self.events_count,
            flows: self.stats,
            nodes: self.nodes.into_iter().map(Node::into_stats).collect(),
            minutes: self.minutes,
            peak_seconds: self.peak_seconds,
            liquidity,
            nettings: self.nettings,
            netting_refusals: self.netting_refusals,
            scheme_settlements,
            breaks_unexplained_count: self.closed.breaks_unexplained_count,
            breaks: self.closed.breaks,
            exceptions_injected_count: self.exceptions_injected,
            clearing: self.closed.clearing,
            incidents,
            income,
            ledger_size: LedgerSize {
                accounts_count: self.books.ledger.accounts().len(),
                records_count: self.books.ledger.written_count(),
            },
            invariants_ok: true,
            audit_checks_count: self.audit.checks_count,
            audit_counts: self.audit.counts(),
            slos: self.cfg.slos.clone(),
            warmup_minutes: self.cfg.warmup_minutes,
            marks: self.marks,
            fx_mid: FxMids {
                usd_cny: MidMove { start: self.fx.start[0], end: fx_end[0] },
                usd_khr: MidMove { start: self.fx.start[1], end: fx_end[1] },
            },
        })
    }

    /// The scenario's windows, then its links' outages, as the report shows them.
    fn incidents(&self) -> Vec<Incident> {
        let windows = self.cfg.windows.iter().map(|w| Incident {
            name: w.name.clone(),
            kind: if w.crash { IncidentKind::Crash } else { IncidentKind::Degraded },
            from: w.span.from,
            until: w.span.until,
            targets: w.targets.clone(),
        });
        let outages = self.cfg.links.iter().flat_map(|l| {
            l.link.outages.iter().map(|o| Incident {
                name: format!("{} outage", l.name),
                kind: IncidentKind::Outage,
                from: o.from,
                until: o.until,
                targets: vec![l.name.clone()],
            })
        });
        windows.chain(outages).collect()
    }

    /// What the books must show so far for every payment still in flight (none when the run
    /// drained): the originator's hold, and a credit already booked at the far side.
    fn in_flight_effects(&self) -> Vec<InFlight> {
        let mut out = Vec::new();
        for pay in &self.slots {
            if matches!(pay.stage, Stage::Final | Stage::Released) {
                continue;
            }
            let t = &pay.terms;
            let mut effects = InFlight { payment: pay.seq, ..InFlight::default() };
            let credited = matches!(pay.far.phase(), FarPhase::Credited { .. });
            if credited && t.fee.minor != 0 {
                effects.income.push((t.payee_participant, t.fee));
            }
            if pay.pending.is_some_and(super::Outcome::is_approved)
                && t.flow != Flow::Domestic
                && t.spread().minor != 0
            {
                effects.income.push((t.payer_participant, t.spread()));
            }
            if pay.originator.hold().is_some() {
                let held = t.exchanged().minor + t.spread().minor;
                effects.held.push((t.payer_wallet, held.unsigned_abs()));
            }
            // Approved by a node's stand-in, its advice still open: the payer has paid.
            if pay.pending.is_some_and(super::Outcome::is_approved) && t.flow != Flow::Domestic {
                let paid = t.exchanged().minor + t.spread().minor;
                effects.posted.push((t.payer_wallet, -paid));
            }
            if matches!(pay.far.phase(), FarPhase::Credited { .. }) {
                effects.posted.push((t.payee_wallet, t.received().minor - t.fee.minor));
                if t.flow == Flow::Domestic {
                    effects.posted.push((t.payer_wallet, -t.amount.minor));
                }
            }
            out.push(effects);
        }
        out
    }

    /// The value time of a trade date: UPI and NBC settle it now.
    pub(super) fn on_scheme_value(&mut self, now: Timestamp, date: Date) {
        if let Some(owed) = self.books.scheme_owed.remove(&date) {
            let mut one = BTreeMap::new();
            one.insert(date, owed);
            let settled = self.settle_scheme_dates(now, one);
            self.scheme_settlements.extend(settled);
        }
    }

    /// Every trade date still owed at the end of the run (its value time after it), booked
    /// now, after the ones booked during the run.
    fn settle_scheme(
        &mut self,
        now: Timestamp,
    ) -> Vec<crate::payments::settlement::SchemeSettlement> {
        let owed = std::mem::take(&mut self.books.scheme_owed);
        let mut out = std::mem::take(&mut self.scheme_settlements);
        out.extend(self.settle_scheme_dates(now, owed));
        out
    }

    fn settle_scheme_dates(
        &mut self,
        now: Timestamp,
        owed: BTreeMap<Date, ([i64; 3], [i64; 3])>,
    ) -> Vec<crate::payments::settlement::SchemeSettlement> {
        let mut out = Vec::new();
        for (date, (to_nbc, to_upi)) in owed {
            let money = |v: [i64; 3]| -> Vec<Money> {
                Currency::ALL
                    .iter()
                    .map(|&c| Money::new(c, v[c.index()]))
                    .filter(|m| m.minor != 0)
                    .collect()
            };
            let s = scheme_settlement(
                date,
                &money(to_nbc),
                &money(to_upi),
                &self.cn_calendar,
                &self.books.rates,
            )
            .expect("UPI rates to USD are published from the start");
            let id = TransferId(self.books.ids(1));
            if let Some(command) =
                scheme_settlement_command(&s, self.books.upi_usd, self.books.nbc_usd_scheme, id, 0)
            {
                self.books
                    .ledger
                    .execute(command, now)
                    .expect("scheme settlement accounts have no limits");
            }
            out.push(s);
        }
        out
    }

    /// Closes every open business date (Beijing) that ended, with the next one, before
    /// `horizon` (every one at the end of the run, `None`): reconciles the switch's file of the
    /// date against UPI's (and UPI's next, for late presentments), audits the receivable, and
    /// hands both files to `sink`, or keeps them in the record. A break is explained when its
    /// payment had a timeout, a reversal or an injected exception.
    fn close_clearing_days(
        &mut self,
        horizon: Option<Timestamp>,
        mut sink: Option<&mut (dyn ClearingSink + '_)>,
    ) -> Result<(), Breach> {
        let config = ReconConfig { rounding_tolerance_minor: self.cfg.rounding_tolerance_minor };
        loop {
            let first = |m: &BTreeMap<Date, Vec<ClearingRecord>>| m.keys().next().copied();
            let Some(d) = first(&self.books.clearing_switch)
                .into_iter()
                .chain(first(&self.books.clearing_upi))
                .min()
            else {
                return Ok(());
            };
            let next_ends = Timestamp::at_local(d.succ().succ(), 0, 0, Zone::BEIJING);
            if horizon.is_some_and(|h| h < next_ends) {
                return Ok(());
            }
            let ours = self.books.clearing_switch.remove(&d).unwrap_or_default();
            let theirs = self.books.clearing_upi.remove(&d).unwrap_or_default();
            let empty = Vec::new();
            let next = self.books.clearing_upi.get(&d.succ()).unwrap_or(&empty);
            let found = reconcile(&ours, &theirs, next, config);
            crate::sim::audit::check_receivable(d, &ours, &theirs, &found)?;
            self.closed.breaks_unexplained_count += found
                .iter()
                .filter(|b| {
                    let payment =
                        b.ours.as_ref().or(b.theirs.as_ref()).map_or(u64::MAX, |r| r.payment_id);
                    !self.eventful.contains(&payment)
                })
                .count() as u64;
            self.closed.breaks.extend(found);
            self.closed.through = Some(d);
            let kept = &mut self.closed.clearing;
            kept.switch_count += ours.len() as u64;
            kept.upi_count += theirs.len() as u64;
            match sink.as_deref_mut() {
                Some(sink) => sink.day(d, &ours, &theirs),
                None => {
                    kept.switch.extend(ours);
                    kept.upi.extend(theirs);
                }
            }
        }
    }
}
