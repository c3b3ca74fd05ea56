//! How a payment ends, and why one is declined: the vocabulary every participant, the
//! simulator, the load tester and the reports share.

/// How a payment ended. Declines carry their class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// Approved with the first answer.
    Approved,
    /// Approved after the originator timed out (found by inquiry or a late answer).
    ApprovedLate,
    /// Declined: the class says why.
    Declined(Decline),
    /// Timed out and reversed.
    Reversed,
    /// Timed out; the reversal never got through and awaits manual handling.
    Manual,
    /// The payer scanned and walked away; nothing was sent.
    Abandoned,
}

/// Why a payment was declined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(missing_docs)]
pub enum Decline {
    InsufficientBalance,
    PinFailure,
    LimitExceeded,
    RiskDecline,
    IssuerUnavailable,
    SwitchError,
    AcquirerError,
    MerchantInvalid,
    ExpiredQr,
    MalformedQr,
    /// A node's queue was full.
    NodeOverloaded,
    /// A node's admission control turned the request away (its sender over its rate or
    /// concurrency limit, or a circuit breaker open toward the next hop).
    Throttled,
    /// A node on the way timed out waiting for the next hop's answer and declined.
    HopTimeout,
    /// A node's circuit breaker toward the next hop was open.
    CircuitOpen,
    /// The payer's bank had no liquidity left at NBC for it this cycle.
    InsufficientLiquidity,
    /// The reversal reached the far side before the request did.
    Reversed,
}

impl Decline {
    /// Every class, in report order.
    pub const ALL: [Decline; 16] = [
        Decline::InsufficientBalance,
        Decline::PinFailure,
        Decline::LimitExceeded,
        Decline::RiskDecline,
        Decline::IssuerUnavailable,
        Decline::SwitchError,
        Decline::AcquirerError,
        Decline::MerchantInvalid,
        Decline::ExpiredQr,
        Decline::MalformedQr,
        Decline::NodeOverloaded,
        Decline::Throttled,
        Decline::HopTimeout,
        Decline::CircuitOpen,
        Decline::InsufficientLiquidity,
        Decline::Reversed,
    ];

    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Decline::InsufficientBalance => "insufficient_balance",
            Decline::PinFailure => "pin_failure",
            Decline::LimitExceeded => "limit_exceeded",
            Decline::RiskDecline => "risk_decline",
            Decline::IssuerUnavailable => "issuer_unavailable",
            Decline::SwitchError => "switch_error",
            Decline::AcquirerError => "acquirer_error",
            Decline::MerchantInvalid => "merchant_invalid",
            Decline::ExpiredQr => "expired_qr",
            Decline::MalformedQr => "malformed_qr",
            Decline::NodeOverloaded => "node_overloaded",
            Decline::Throttled => "throttled",
            Decline::HopTimeout => "hop_timeout",
            Decline::CircuitOpen => "circuit_open",
            Decline::InsufficientLiquidity => "insufficient_liquidity",
            Decline::Reversed => "reversed_before_arrival",
        }
    }
}

impl Outcome {
    /// The outcome's name in reports (`declined:<class>` for declines).
    pub fn name(self) -> String {
        match self {
            Outcome::Approved => "approved".into(),
            Outcome::ApprovedLate => "approved_late".into(),
            Outcome::Declined(d) => format!("declined:{}", d.name()),
            Outcome::Reversed => "reversed".into(),
            Outcome::Manual => "manual".into(),
            Outcome::Abandoned => "abandoned".into(),
        }
    }

    /// Approved, on time or late.
    pub fn is_approved(self) -> bool {
        matches!(self, Outcome::Approved | Outcome::ApprovedLate)
    }
}
