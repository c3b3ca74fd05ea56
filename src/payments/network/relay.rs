//! The nodes on a payment's way that keep a deadline of their own: a switch that forwards a
//! request and will not wait for the answer longer than its own timer (UPI toward Bakong,
//! Bakong toward the acquirer). When the timer fires first, the node answers upstream itself:
//!
//! * **decline**: it declines (`hop_timeout`), and sends a 0420 reversal advice downstream,
//!   store-and-forward, so that a far side which did book the payment undoes it;
//! * **stand-in**: it approves on the far side's behalf, and sends a stand-in advice (a 0120)
//!   downstream, store-and-forward until acknowledged, which books the payee's side if the far
//!   side has not (a stand-in approval binds the far side).
//!
//! The answer that comes after the node gave up is dropped there: upstream already has one.
//! One value holds every such hop of one payment as bit sets (a route has at most 16 hops), so
//! a payment carries eight bytes for them. Like the originator, it takes what happened and says
//! what to do; the caller owns time, the links and the ledger.

use super::originator::OriginatorPolicy;
use crate::payments::time::Span;

/// What a node does when its deadline passes without an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnDeadline {
    /// Decline upstream, and reverse downstream.
    Decline,
    /// Approve upstream on the far side's behalf, and advise downstream.
    StandIn,
}

/// What to do with an answer arriving at a relaying hop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerStep {
    /// Pass it on upstream.
    Pass,
    /// Drop it: the node has already answered upstream itself.
    Drop,
}

/// What to do when a hop's deadline passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeadlineStep {
    /// The answer came in time (or the hop was not waiting): nothing.
    Stale,
    /// Decline upstream with `hop_timeout`, and start the reversal advice downstream.
    Decline,
    /// Approve upstream, and start the stand-in advice downstream.
    StandIn,
}

/// What to do when a hop's advice timer fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdviceStep {
    /// The advice was acknowledged (or never sent): nothing.
    Stale,
    /// Send it (again), and set the next timer after `after`.
    Send {
        /// The next attempt's number.
        next: u32,
        /// When the next attempt's timer fires.
        after: Span,
    },
    /// A reversal advice expired unacknowledged: manual handling. (A stand-in advice never
    /// expires: it carries money the payer has already paid.)
    Expired,
}

/// The relaying hops of one payment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Relays {
    waiting: u16,
    gave_up: u16,
    advising: u16,
    stood_in: u16,
}

fn bit(hop: u8) -> u16 {
    assert!(hop < 16, "a route has at most 16 hops");
    1 << hop
}

impl Relays {
    /// Hop `hop` forwarded the request and waits for its answer, with its deadline set.
    pub fn on_forward(&mut self, hop: u8) {
        self.waiting |= bit(hop);
    }

    /// The answer to the request passed (or reached) hop `hop` on its way upstream.
    pub fn on_answer(&mut self, hop: u8) -> AnswerStep {
        if self.gave_up & bit(hop) != 0 {
            return AnswerStep::Drop;
        }
        self.waiting &= !bit(hop);
        AnswerStep::Pass
    }

    /// Hop `hop`'s deadline passed; `action` is what its node does then.
    pub fn on_deadline(&mut self, hop: u8, action: OnDeadline) -> DeadlineStep {
        if self.waiting & bit(hop) == 0 {
            return DeadlineStep::Stale;
        }
        self.waiting &= !bit(hop);
        self.gave_up |= bit(hop);
        self.advising |= bit(hop);
        match action {
            OnDeadline::Decline => DeadlineStep::Decline,
            OnDeadline::StandIn => {
                self.stood_in |= bit(hop);
                DeadlineStep::StandIn
            }
        }
    }

    /// Whether hop `hop` approved on the far side's behalf (its advice is a stand-in).
    pub fn stood_in(&self, hop: u8) -> bool {
        self.stood_in & bit(hop) != 0
    }

    /// Hop `hop`'s advice timer `attempt` fired; `policy` paces it as the originator paces its
    /// reversal advices (growing back-off to a cap; a reversal advice expires after
    /// `reversal_attempts_max`).
    pub fn on_advice_timer(
        &mut self,
        hop: u8,
        attempt: u32,
        policy: &OriginatorPolicy,
    ) -> AdviceStep {
        if self.advising & bit(hop) == 0 {
            return AdviceStep::Stale;
        }
        if !self.stood_in(hop) && attempt >= policy.reversal_attempts_max {
            self.advising &= !bit(hop);
            return AdviceStep::Expired;
        }
        let backoff = &policy.reversal_backoff;
        let after = backoff[(attempt as usize).min(backoff.len() - 1)];
        AdviceStep::Send { next: attempt.saturating_add(1), after }
    }

    /// Hop `hop`'s advice was acknowledged: whether it was still open (a copy may come twice).
    pub fn on_advice_ack(&mut self, hop: u8) -> bool {
        let open = self.advising & bit(hop) != 0;
        self.advising &= !bit(hop);
        open
    }

    /// Whether any hop's advice is still open: the payment is not final until none is.
    pub fn advising(&self) -> bool {
        self.advising != 0
    }
}

#[cfg(test)]
mod tests {
    //! Goal: a relaying hop passes an answer in time, gives up once at its deadline, drops the
    //! answer that comes after, and keeps its advice open until it is acknowledged or (a
    //! reversal) expires. Method: each path by hand.

    use super::*;

    fn policy() -> OriginatorPolicy {
        let s = Span::from_secs;
        OriginatorPolicy {
            timeout: s(30),
            inquiry_every: s(3),
            inquiries_max: 2,
            reversal_backoff: vec![s(1), s(5)],
            reversal_attempts_max: 3,
        }
    }

    #[test]
    fn an_answer_in_time_passes_and_the_deadline_is_stale() {
        let mut r = Relays::default();
        r.on_forward(3);
        assert_eq!(r.on_answer(3), AnswerStep::Pass);
        assert_eq!(r.on_deadline(3, OnDeadline::Decline), DeadlineStep::Stale);
        assert!(!r.advising());
    }

    #[test]
    fn a_deadline_declines_once_and_its_reversal_advice_expires() {
        let p = policy();
        let mut r = Relays::default();
        r.on_forward(1);
        r.on_forward(3);
        assert_eq!(r.on_deadline(3, OnDeadline::Decline), DeadlineStep::Decline);
        assert_eq!(r.on_deadline(3, OnDeadline::Decline), DeadlineStep::Stale, "once");
        assert_eq!(r.on_answer(3), AnswerStep::Drop, "the late answer stops here");
        assert_eq!(r.on_answer(1), AnswerStep::Pass, "the other hop still waits for one");
        assert!(r.advising());
        let sends: Vec<AdviceStep> = (0..4).map(|a| r.on_advice_timer(3, a, &p)).collect();
        assert_eq!(
            sends,
            [
                AdviceStep::Send { next: 1, after: Span::from_secs(1) },
                AdviceStep::Send { next: 2, after: Span::from_secs(5) },
                AdviceStep::Send { next: 3, after: Span::from_secs(5) },
                AdviceStep::Expired,
            ]
        );
        assert!(!r.advising());
        assert_eq!(r.on_advice_timer(3, 4, &p), AdviceStep::Stale);
    }

    #[test]
    fn a_stand_in_advice_is_resent_until_acknowledged() {
        let p = policy();
        let mut r = Relays::default();
        r.on_forward(1);
        assert_eq!(r.on_deadline(1, OnDeadline::StandIn), DeadlineStep::StandIn);
        assert!(r.stood_in(1));
        assert!(matches!(r.on_advice_timer(1, 1_000, &p), AdviceStep::Send { .. }), "no expiry");
        assert!(r.on_advice_ack(1));
        assert!(!r.on_advice_ack(1), "a second copy of the acknowledgement");
        assert!(!r.advising());
        assert_eq!(r.on_advice_timer(1, 1_001, &p), AdviceStep::Stale);
    }
}
