//! The far side's part of a payment: the participant that books the payee's side (the
//! merchant's bank inward, the Chinese acquirer outward, the recipient's issuer for
//! remittances, the Bakong switch domestically).
//!
//! On the 0200 it declines (its own decision, drawn by the caller) or credits the payee; it
//! answers 0600 inquiries with what it did; on the 0420 it reverses a credit it booked, or
//! remembers the reversal so that a request arriving after it is declined. On a stand-in
//! advice (a node on the way approved on its behalf) it credits the payee if it has not, even
//! after its own decline: a stand-in approval binds it. A duplicate request
//! books nothing new: the credit is placed again under the same ids, and the ledger's
//! idempotency absorbs it.

use super::message::ResponseCode;
use super::outcome::Decline;
use crate::payments::ledger::{TransferId, TransferReject};

/// What the far side has done with a payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FarPhase {
    /// Nothing: the request has not arrived.
    NotArrived,
    /// Credited the payee with the transfers from this id.
    Credited {
        /// The credit's first transfer id.
        credit: TransferId,
    },
    /// Declined the request.
    Declined(Decline),
    /// Reversed: a credit undone, or a reversal that came before the request.
    Reversed,
}

/// What to do with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestStep {
    /// Answer at once with this decline.
    Decline(Decline),
    /// Book the credit, then report the result with [`FarSide::on_credit`].
    Credit,
    /// The payee is already credited (a stand-in advice came first): approve, book nothing.
    AlreadyCredited,
}

/// What to do with a stand-in advice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StandInStep {
    /// Book the credit (report it with [`FarSide::on_credit`]), then acknowledge.
    Credit,
    /// Acknowledge with this code: already credited (approved), or reversed before it came.
    Acknowledge(ResponseCode),
}

/// What to do with a reversal advice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReversalStep {
    /// The advice was refused (a technical failure): no acknowledgement; it will come again.
    Ignore,
    /// Reverse the credit booked with ids from `credit`, then acknowledge.
    ReverseCredit {
        /// The credit's first transfer id.
        credit: TransferId,
    },
    /// Acknowledge with this code: nothing to reverse.
    Acknowledge(ResponseCode),
}

/// One payment at its far side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FarSide {
    phase: FarPhase,
}

impl Default for FarSide {
    fn default() -> Self {
        FarSide { phase: FarPhase::NotArrived }
    }
}

impl FarSide {
    /// What it has done.
    pub fn phase(&self) -> FarPhase {
        self.phase
    }

    /// The request arrived; `decline` is the far side's own decision (merchant invalid, then
    /// technical error), drawn by the caller.
    pub fn on_request(&mut self, decline: Option<Decline>) -> RequestStep {
        self.on_request_with(|| decline)
    }

    /// As [`FarSide::on_request`], asking for the decision only when it is needed (not for a
    /// payment already reversed), so that a caller drawing it at random draws exactly when the
    /// protocol decides.
    pub fn on_request_with(&mut self, decide: impl FnOnce() -> Option<Decline>) -> RequestStep {
        match self.phase {
            FarPhase::Reversed => return RequestStep::Decline(Decline::Reversed),
            FarPhase::Credited { .. } => return RequestStep::AlreadyCredited,
            FarPhase::NotArrived | FarPhase::Declined(_) => {}
        }
        match decide() {
            Some(d) => {
                self.phase = FarPhase::Declined(d);
                RequestStep::Decline(d)
            }
            None => RequestStep::Credit,
        }
    }

    /// The credit booked with ids from `first` came back `result`.
    ///
    /// # Errors
    /// [`Decline::InsufficientBalance`] when the ledger refused it for lack of funds (a domestic
    /// payment, whose credit moves the payer's own funds).
    ///
    /// # Panics
    /// For any other refusal: the credit's commands are built to be valid.
    pub fn on_credit(
        &mut self,
        result: Result<(), TransferReject>,
        first: TransferId,
    ) -> Result<(), Decline> {
        match result {
            Ok(()) => {
                self.phase = FarPhase::Credited { credit: first };
                Ok(())
            }
            Err(TransferReject::InsufficientFunds) => {
                self.phase = FarPhase::Declined(Decline::InsufficientBalance);
                Err(Decline::InsufficientBalance)
            }
            Err(reject) => panic!("credit refused: {reject:?}"),
        }
    }

    /// A 0600 inquiry arrived: the answer it gives.
    pub fn on_inquiry(&self) -> ResponseCode {
        match self.phase {
            FarPhase::Credited { .. } => ResponseCode::Approved,
            FarPhase::Declined(d) => ResponseCode::Declined(d),
            FarPhase::NotArrived | FarPhase::Reversed => ResponseCode::NotFound,
        }
    }

    /// A 0420 arrived; `refused` is the caller's draw of a technical failure.
    pub fn on_reversal(&mut self, refused: bool) -> ReversalStep {
        if refused {
            return ReversalStep::Ignore;
        }
        match self.phase {
            FarPhase::Credited { credit } => ReversalStep::ReverseCredit { credit },
            FarPhase::NotArrived => {
                self.phase = FarPhase::Reversed;
                ReversalStep::Acknowledge(self.ack())
            }
            FarPhase::Declined(_) | FarPhase::Reversed => ReversalStep::Acknowledge(self.ack()),
        }
    }

    /// A stand-in advice arrived: a node on the way approved on this side's behalf.
    pub fn on_stand_in(&self) -> StandInStep {
        match self.phase {
            FarPhase::NotArrived | FarPhase::Declined(_) => StandInStep::Credit,
            FarPhase::Credited { .. } => StandInStep::Acknowledge(ResponseCode::Approved),
            FarPhase::Reversed => {
                StandInStep::Acknowledge(ResponseCode::Declined(Decline::Reversed))
            }
        }
    }

    /// The credit's reversal was booked.
    pub fn on_credit_reversed(&mut self) -> ResponseCode {
        assert!(matches!(self.phase, FarPhase::Credited { .. }), "only a credit is reversed");
        self.phase = FarPhase::Reversed;
        self.ack()
    }

    /// The 0430's code: the original's decline if it was declined here, else "reversed"
    /// (approved, as the advice is accepted).
    fn ack(&self) -> ResponseCode {
        match self.phase {
            FarPhase::Declined(d) => ResponseCode::Declined(d),
            _ => ResponseCode::Approved,
        }
    }

    /// A duplicate request arrived: the credit to book again under its ids, if one was booked.
    pub fn on_duplicate(&self) -> Option<TransferId> {
        match self.phase {
            FarPhase::Credited { credit } => Some(credit),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    //! Goal: the far side credits once, declines by its own decision or after a reversal, and
    //! answers inquiries and reversals with what it did. Method: each path by hand.

    use super::*;

    #[test]
    fn credits_once_and_answers_with_what_it_did() {
        let mut f = FarSide::default();
        assert_eq!(f.on_inquiry(), ResponseCode::NotFound);
        assert_eq!(f.on_request(None), RequestStep::Credit);
        f.on_credit(Ok(()), TransferId(9)).expect("credited");
        assert_eq!(f.on_inquiry(), ResponseCode::Approved);
        assert_eq!(f.on_duplicate(), Some(TransferId(9)));
        assert_eq!(f.on_reversal(true), ReversalStep::Ignore);
        assert_eq!(f.on_reversal(false), ReversalStep::ReverseCredit { credit: TransferId(9) });
        assert_eq!(f.on_credit_reversed(), ResponseCode::Approved);
        assert_eq!(
            f.on_request(None),
            RequestStep::Decline(Decline::Reversed),
            "a late request after its reversal"
        );
    }

    #[test]
    fn a_stand_in_advice_credits_once_and_binds_after_a_decline() {
        let mut f = FarSide::default();
        assert_eq!(f.on_stand_in(), StandInStep::Credit, "the request never came");
        f.on_credit(Ok(()), TransferId(4)).expect("credited");
        assert_eq!(f.on_stand_in(), StandInStep::Acknowledge(ResponseCode::Approved));
        assert_eq!(f.on_request(None), RequestStep::AlreadyCredited, "the request, late");
        let mut f = FarSide::default();
        f.on_request(Some(Decline::AcquirerError));
        assert_eq!(f.on_stand_in(), StandInStep::Credit, "a stand-in binds the far side");
        let mut f = FarSide::default();
        f.on_reversal(false);
        assert_eq!(
            f.on_stand_in(),
            StandInStep::Acknowledge(ResponseCode::Declined(Decline::Reversed))
        );
    }

    #[test]
    fn declines_and_early_reversals() {
        let mut f = FarSide::default();
        assert_eq!(
            f.on_request(Some(Decline::AcquirerError)),
            RequestStep::Decline(Decline::AcquirerError)
        );
        assert_eq!(
            f.on_reversal(false),
            ReversalStep::Acknowledge(ResponseCode::Declined(Decline::AcquirerError))
        );
        let mut f = FarSide::default();
        assert_eq!(f.on_reversal(false), ReversalStep::Acknowledge(ResponseCode::Approved));
        assert_eq!(f.phase(), FarPhase::Reversed);
        assert_eq!(f.on_request(None), RequestStep::Decline(Decline::Reversed));
        let mut f = FarSide::default();
        f.on_request(None);
        assert_eq!(
            f.on_credit(Err(TransferReject::InsufficientFunds), TransferId(1)),
            Err(Decline::InsufficientBalance)
        );
        assert_eq!(f.on_inquiry(), ResponseCode::Declined(Decline::InsufficientBalance));
    }
}
