//! The clearing tap: the switch's and UPI's record of each message of a cross-border payment,
//! built from the payment's terms, and the scenario's exceptions injected into UPI's file so
//! that reconciliation has known breaks to find (a break is explained when its payment had a
//! timeout, a reversal or an injected exception).

use super::{PRef, World};
use crate::payments::clearing::{MessageKind, Party, Status};
use crate::payments::ledger::TransferId;
use crate::payments::money::Money;
use crate::payments::network::far_side::FarPhase;
use crate::payments::time::{Timestamp, Zone};

impl World {
    /// Writes the switch's and UPI's clearing records of a message, injecting the scenario's
    /// exceptions into UPI's.
    pub(super) fn record(
        &mut self,
        p: PRef,
        kind: MessageKind,
        switch: (Timestamp, Status),
        upi: (Timestamp, Status),
    ) {
        let pay = self.slot(p).expect("a message keeps its payment's slot");
        let md5 = self.qr_md5(pay);
        let credit = match pay.far.phase() {
            FarPhase::Credited { credit } => credit,
            _ => TransferId(0),
        };
        let ours = pay.terms.clearing_record(Party::Switch, kind, switch, credit, md5.clone());
        // UPI dates its record by its own clock.
        let skew = self.cfg.scheme_clock_skew_ns;
        let upi_clock = Timestamp::from_nanos(upi.0.as_nanos().saturating_add_signed(skew));
        let upi = (upi_clock, upi.1);
        let mut theirs = pay.terms.clearing_record(Party::Upi, kind, upi, credit, md5);
        let seq = pay.seq;
        if switch.1 != upi.1 || !switch.0.same_date_at(upi.0, Zone::BEIJING) {
            self.eventful.insert(seq);
        }
        let [missing_network, missing_switch, duplicate, mismatch, status, late] =
            self.cfg.exceptions;
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
            } else if late > 0 && rng.chance_ppm(late) {
                // Presented a business day late: in the next day's file.
                theirs.business_date = theirs.business_date.succ();
                injected = true;
            }
        }
        if injected {
            self.exceptions_injected += 1;
            self.eventful.insert(seq);
        }
        // A business date is closed (reconciled, its files handed on) only once no record of
        // it, or of the next date that reconciliation reads beside it, can still come.
        if let Some(closed) = self.closed.through {
            assert!(
                ours.business_date > closed && theirs.business_date > closed.succ(),
                "a clearing record of {} or {} after {closed} was closed",
                ours.business_date,
                theirs.business_date
            );
        }
        if push_ours {
            self.books.clearing_switch.entry(ours.business_date).or_default().push(ours);
        }
        for _ in 0..copies {
            self.books.clearing_upi.entry(theirs.business_date).or_default().push(theirs.clone());
        }
    }
}
