//! The originator's part of a payment: the participant that holds the payer's funds and answers
//! the payer (a Chinese issuer inward; a Bakong member bank outward, for remittances and
//! domestically).
//!
//! It authorises (its own declines, then the hold on the payer's funds), waits for the
//! network's 0210, and when none comes before its timeout it sends 0600 status inquiries; when
//! none of them settles the payment it voids the hold and sends the 0420 reversal advice. An
//! advice is store-and-forward, as switches keep 0420s: repeated with a back-off that grows to
//! a cap until it is acknowledged, and only when it expires (hours later) does the payment go to
//! manual handling. Every path ends in one [`Outcome`].
//!
//! Each method takes what happened (a decision the caller drew, a response, a timer) and says
//! what to do next; the caller owns time, the ledger, the links and the randomness. A timer or
//! message meant for an earlier phase is stale and changes nothing.

use super::message::ResponseCode;
use super::outcome::{Decline, Outcome};
use crate::payments::ledger::{TransferId, TransferReject};
use crate::payments::time::Span;

/// How an originator waits, inquires and reverses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginatorPolicy {
    /// How long it waits for the answer before it inquires.
    pub timeout: Span,
    /// Time between status inquiries.
    pub inquiry_every: Span,
    /// Inquiries before it reverses.
    pub inquiries_max: u16,
    /// The wait after each reversal advice, growing; the last step repeats (the cap).
    pub reversal_backoff: Vec<Span>,
    /// Advices sent at most before the advice expires and the payment goes to manual
    /// handling (see [`OriginatorPolicy::reversal_attempts_within`]).
    pub reversal_attempts_max: u32,
}

impl OriginatorPolicy {
    /// How many advices a back-off schedule sends before `expiry`: attempt `k` leaves at the
    /// sum of the first `k` waits (the last step repeating), and every attempt that leaves
    /// before the expiry is sent. At least one.
    ///
    /// # Panics
    /// If the schedule is empty or has a zero step (scenario validation refuses both).
    pub fn reversal_attempts_within(backoff: &[Span], expiry: Span) -> u32 {
        assert!(
            !backoff.is_empty() && backoff.iter().all(|b| b.as_nanos() > 0),
            "a back-off schedule has positive steps"
        );
        let (mut at, mut attempts) = (0u64, 0u32);
        while at < expiry.as_nanos() && attempts < u32::MAX {
            let step = backoff[(attempts as usize).min(backoff.len() - 1)];
            at = at.saturating_add(step.as_nanos());
            attempts += 1;
        }
        attempts.max(1)
    }
}

/// Where the originator is with a payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Not yet authorised.
    Authorising,
    /// Authorised and sent; waiting for the answer.
    Waiting,
    /// Timed out; asking the far side.
    Inquiring,
    /// Gave up; reversing.
    Reversing,
    /// Done.
    Final,
}

/// A timer the originator asks for, to be delivered back to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// The answer is overdue (valid for one epoch: a later phase makes it stale).
    Timeout {
        /// The epoch it was set in.
        epoch: u8,
    },
    /// Send inquiry `n` (from 1).
    Inquiry {
        /// Which.
        n: u16,
    },
    /// Send reversal attempt `attempt` (from 0); past the last, manual handling.
    Reversal {
        /// Which.
        attempt: u32,
    },
}

/// The end of a payment at the originator, once an answer settles it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conclusion {
    /// The hold to settle (its first id), if one is held.
    pub hold: Option<TransferId>,
    /// Post the hold (approved) or void it.
    pub post: bool,
    /// The payment's outcome.
    pub outcome: Outcome,
}

/// What to do after an inquiry timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InquiryStep {
    /// The timer is stale.
    Stale,
    /// Send inquiry `n` to the far side, and set the next timer after `every`.
    Send {
        /// The next inquiry's timer.
        next: Timer,
        /// When it fires.
        after: Span,
    },
    /// Inquiries are over: void the hold (if held) and start the reversal.
    Reverse {
        /// The hold to void.
        void: Option<TransferId>,
    },
}

/// What to do after a reversal timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReversalStep {
    /// The timer is stale.
    Stale,
    /// Send the 0420, and set the next attempt's timer.
    Send {
        /// The next attempt's timer.
        next: Timer,
        /// When it fires.
        after: Span,
    },
    /// The last attempt went unanswered: the payment goes to manual handling.
    Manual,
}

/// One payment at its originator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Originator {
    phase: Phase,
    epoch: u8,
    hold: Option<TransferId>,
}

impl Default for Originator {
    fn default() -> Self {
        Originator { phase: Phase::Authorising, epoch: 0, hold: None }
    }
}

impl Originator {
    /// Where it is.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The hold's first id, while one is held.
    pub fn hold(&self) -> Option<TransferId> {
        self.hold
    }

    /// The request reached the originator; `decline` is its own decision (PIN, limits, risk,
    /// availability, in that order), drawn by the caller. `Err` declines the payment here: the
    /// originator answers the payer with it (the answer concludes it, see
    /// [`Originator::on_answer`]).
    ///
    /// # Errors
    /// The decline.
    pub fn on_request(&mut self, decline: Option<Decline>) -> Result<(), Decline> {
        assert_eq!(self.phase, Phase::Authorising, "a payment is authorised once");
        match decline {
            Some(d) => Err(d),
            None => Ok(()),
        }
    }

    /// The hold the caller placed with ids from `first` came back `result`. On success the
    /// originator waits, and asks for its timeout timer.
    ///
    /// # Errors
    /// [`Decline::InsufficientBalance`] when the ledger refused the hold for lack of funds.
    ///
    /// # Panics
    /// For any other refusal: the hold's commands are built to be valid.
    pub fn on_hold(
        &mut self,
        result: Result<(), TransferReject>,
        first: TransferId,
        policy: &OriginatorPolicy,
    ) -> Result<(Timer, Span), Decline> {
        match result {
            Ok(()) => {
                self.hold = Some(first);
                Ok(self.wait(policy))
            }
            Err(TransferReject::InsufficientFunds) => Err(Decline::InsufficientBalance),
            Err(reject) => panic!("hold refused: {reject:?}"),
        }
    }

    /// Authorised without a hold (a domestic payment): wait for the answer.
    pub fn on_authorised(&mut self, policy: &OriginatorPolicy) -> (Timer, Span) {
        self.wait(policy)
    }

    fn wait(&mut self, policy: &OriginatorPolicy) -> (Timer, Span) {
        self.phase = Phase::Waiting;
        (Timer::Timeout { epoch: self.epoch }, policy.timeout)
    }

    /// The answer (a 0210, or a 0610 with the original's outcome) arrived. Before the
    /// payment is authorised, an answer is the originator's own decline (or the payer's app
    /// giving up on an unreachable originator), and it concludes the payment too.
    pub fn on_answer(&mut self, code: ResponseCode) -> Option<Conclusion> {
        let late = match self.phase {
            Phase::Authorising | Phase::Waiting => false,
            Phase::Inquiring => true,
            _ => return None,
        };
        let outcome = match (code, late) {
            (ResponseCode::Approved, false) => Outcome::Approved,
            (ResponseCode::Approved, true) => Outcome::ApprovedLate,
            (ResponseCode::Declined(d), _) => Outcome::Declined(d),
            // "Not found" settles nothing: keep inquiring.
            (ResponseCode::NotFound, _) => return None,
        };
        self.phase = Phase::Final;
        Some(Conclusion { hold: self.hold.take(), post: code == ResponseCode::Approved, outcome })
    }

    /// A timeout timer fired: if it is current, the originator starts inquiring at once.
    pub fn on_timeout(&mut self, epoch: u8) -> Option<Timer> {
        if self.phase != Phase::Waiting || self.epoch != epoch {
            return None;
        }
        self.phase = Phase::Inquiring;
        Some(Timer::Inquiry { n: 1 })
    }

    /// Inquiry timer `n` fired.
    pub fn on_inquiry_timer(&mut self, n: u16, policy: &OriginatorPolicy) -> InquiryStep {
        if self.phase != Phase::Inquiring {
            return InquiryStep::Stale;
        }
        if n > policy.inquiries_max {
            self.phase = Phase::Reversing;
            self.epoch = self.epoch.wrapping_add(1);
            return InquiryStep::Reverse { void: self.hold.take() };
        }
        InquiryStep::Send {
            next: Timer::Inquiry { n: n.saturating_add(1) },
            after: policy.inquiry_every,
        }
    }

    /// The first reversal attempt's timer (the caller paces reversals and sets it).
    pub fn first_reversal(&self) -> Timer {
        Timer::Reversal { attempt: 0 }
    }

    /// Reversal timer `attempt` fired: send the advice again, with the next wait of the
    /// schedule (its last step repeating), or, once the advice has expired, give up.
    pub fn on_reversal_timer(&mut self, attempt: u32, policy: &OriginatorPolicy) -> ReversalStep {
        if self.phase != Phase::Reversing {
            return ReversalStep::Stale;
        }
        if attempt >= policy.reversal_attempts_max {
            self.phase = Phase::Final;
            return ReversalStep::Manual;
        }
        let backoff = &policy.reversal_backoff;
        let after = backoff[(attempt as usize).min(backoff.len() - 1)];
        ReversalStep::Send { next: Timer::Reversal { attempt: attempt + 1 }, after }
    }

    /// The 0430 arrived: the far side says the original was declined (`Declined`), or that it
    /// is reversed (anything else).
    pub fn on_reversal_ack(&mut self, code: ResponseCode) -> Option<Outcome> {
        if self.phase != Phase::Reversing {
            return None;
        }
        self.phase = Phase::Final;
        Some(match code {
            ResponseCode::Declined(d) => Outcome::Declined(d),
            _ => Outcome::Reversed,
        })
    }

    /// A duplicate of the request reached the originator: the hold to place again under the
    /// same ids (the ledger's idempotency absorbs it), if one is held.
    pub fn on_duplicate(&self) -> Option<TransferId> {
        self.hold
    }
}

#[cfg(test)]
mod tests {
    //! Goal: each path of the protocol ends in the right outcome, and stale timers and answers
    //! change nothing. Method: drive one originator through each path by hand.

    use super::*;

    fn policy() -> OriginatorPolicy {
        OriginatorPolicy {
            timeout: Span::from_secs(30),
            inquiry_every: Span::from_secs(3),
            inquiries_max: 2,
            reversal_backoff: vec![Span::from_secs(1), Span::from_secs(2)],
            reversal_attempts_max: 2,
        }
    }

    fn held() -> Originator {
        let mut o = Originator::default();
        o.on_request(None).expect("authorised");
        let (timer, after) = o.on_hold(Ok(()), TransferId(7), &policy()).expect("held");
        assert_eq!((timer, after), (Timer::Timeout { epoch: 0 }, Span::from_secs(30)));
        o
    }

    #[test]
    fn an_answer_in_time_posts_or_voids_the_hold() {
        let mut o = held();
        let c = o.on_answer(ResponseCode::Approved).expect("settles");
        assert_eq!(
            c,
            Conclusion { hold: Some(TransferId(7)), post: true, outcome: Outcome::Approved }
        );
        assert_eq!(o.on_answer(ResponseCode::Approved), None, "final once");
        let mut o = held();
        let d = ResponseCode::Declined(Decline::MerchantInvalid);
        assert_eq!(
            o.on_answer(d).map(|c| (c.post, c.outcome)),
            Some((false, Outcome::Declined(Decline::MerchantInvalid)))
        );
    }

    #[test]
    fn declines_and_refused_holds_end_at_the_originator() {
        let mut o = Originator::default();
        assert_eq!(o.on_request(Some(Decline::PinFailure)), Err(Decline::PinFailure));
        let mut o = Originator::default();
        o.on_request(None).expect("authorised");
        assert_eq!(
            o.on_hold(Err(TransferReject::InsufficientFunds), TransferId(1), &policy()),
            Err(Decline::InsufficientBalance)
        );
    }

    #[test]
    fn a_timeout_inquires_then_reverses_then_goes_to_manual() {
        let p = policy();
        let mut o = held();
        assert_eq!(o.on_timeout(1), None, "another epoch's timer is stale");
        assert_eq!(o.on_timeout(0), Some(Timer::Inquiry { n: 1 }));
        assert_eq!(
            o.on_inquiry_timer(1, &p),
            InquiryStep::Send { next: Timer::Inquiry { n: 2 }, after: p.inquiry_every }
        );
        assert_eq!(o.on_answer(ResponseCode::NotFound), None, "not found settles nothing");
        assert!(matches!(o.on_inquiry_timer(2, &p), InquiryStep::Send { .. }));
        assert_eq!(o.on_inquiry_timer(3, &p), InquiryStep::Reverse { void: Some(TransferId(7)) });
        assert_eq!(o.on_timeout(0), None, "the old timeout is stale now");
        assert_eq!(
            o.on_reversal_timer(0, &p),
            ReversalStep::Send { next: Timer::Reversal { attempt: 1 }, after: Span::from_secs(1) }
        );
        assert!(matches!(o.on_reversal_timer(1, &p), ReversalStep::Send { .. }));
        assert_eq!(o.on_reversal_timer(2, &p), ReversalStep::Manual);
        assert_eq!(o.phase(), Phase::Final);
        assert_eq!(o.on_reversal_ack(ResponseCode::Approved), None);
    }

    #[test]
    fn an_advice_is_resent_at_a_capped_back_off_until_it_expires() {
        let s = Span::from_secs;
        let backoff = vec![s(1), s(2), s(4), s(60)];
        // Leaves at 0, 1, 3, 7, then every 60 s: 7 + 60k < 3600 for k = 0..=59.
        let max = OriginatorPolicy::reversal_attempts_within(&backoff, s(3600));
        assert_eq!(max, 4 + 59);
        assert_eq!(OriginatorPolicy::reversal_attempts_within(&backoff, s(1)), 1);
        assert_eq!(OriginatorPolicy::reversal_attempts_within(&backoff, s(2)), 2);
        let p =
            OriginatorPolicy { reversal_backoff: backoff, reversal_attempts_max: max, ..policy() };
        let mut o = held();
        o.on_timeout(0);
        o.on_inquiry_timer(3, &p);
        let mut waits = Vec::new();
        let mut attempt = 0;
        loop {
            match o.on_reversal_timer(attempt, &p) {
                ReversalStep::Send { next: Timer::Reversal { attempt: n }, after } => {
                    waits.push(after);
                    attempt = n;
                }
                ReversalStep::Manual => break,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(waits.len() as u32, max);
        assert_eq!(&waits[..5], &[s(1), s(2), s(4), s(60), s(60)]);
        let total: u64 = waits.iter().map(|w| w.as_nanos()).sum();
        assert!(total >= s(3600).as_nanos(), "manual only once the advice has expired");
    }

    #[test]
    fn a_late_answer_or_an_ack_settles_an_inquiring_or_reversing_payment() {
        let p = policy();
        let mut o = held();
        o.on_timeout(0);
        let c = o.on_answer(ResponseCode::Approved).expect("found by inquiry");
        assert_eq!(c.outcome, Outcome::ApprovedLate);
        let mut o = held();
        o.on_timeout(0);
        o.on_inquiry_timer(3, &p);
        assert_eq!(
            o.on_answer(ResponseCode::Approved),
            None,
            "a reversing payment ignores answers"
        );
        assert_eq!(
            o.on_reversal_ack(ResponseCode::Declined(Decline::AcquirerError)),
            Some(Outcome::Declined(Decline::AcquirerError))
        );
        let mut o = held();
        o.on_timeout(0);
        o.on_inquiry_timer(3, &p);
        assert_eq!(o.on_reversal_ack(ResponseCode::Approved), Some(Outcome::Reversed));
    }
}
