//! The messages participants exchange, shaped like the ISO 8583 ones a switch carries: the
//! message type (MTI), the trace number (STAN, DE 11), the retrieval reference (RRN, DE 37),
//! the amounts and currencies (DE 4/49, DE 6/51), the conversion rate (DE 10), the response
//! code (DE 39) and, for reversals and inquiries, the original's data (DE 90).
//!
//! The wire encoding (bitmap, field formats, framing) is a codec's business; these types are what
//! the state machines read and write.

use rust_decimal::Decimal;

use super::outcome::Decline;
use crate::payments::clearing::Rrn;
use crate::payments::money::Money;

/// The message type indicator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mti {
    /// 0200: financial request (authorise and capture in one message).
    FinancialRequest,
    /// 0210: its response, with the response code.
    FinancialResponse,
    /// 0420: reversal advice, sent after a timeout and repeated until acknowledged.
    ReversalAdvice,
    /// 0430: its acknowledgement.
    ReversalAdviceResponse,
    /// 0600: transaction status inquiry (an administrative request naming the original).
    StatusInquiry,
    /// 0610: its answer: the original's outcome, or "not found".
    StatusInquiryResponse,
    /// 0800: network management (sign-on, echo).
    NetworkRequest,
    /// 0810: its response.
    NetworkResponse,
}

impl Mti {
    /// Every type, in number order.
    pub const ALL: [Mti; 8] = [
        Mti::FinancialRequest,
        Mti::FinancialResponse,
        Mti::ReversalAdvice,
        Mti::ReversalAdviceResponse,
        Mti::StatusInquiry,
        Mti::StatusInquiryResponse,
        Mti::NetworkRequest,
        Mti::NetworkResponse,
    ];

    /// The four digits.
    pub fn code(self) -> &'static str {
        match self {
            Mti::FinancialRequest => "0200",
            Mti::FinancialResponse => "0210",
            Mti::ReversalAdvice => "0420",
            Mti::ReversalAdviceResponse => "0430",
            Mti::StatusInquiry => "0600",
            Mti::StatusInquiryResponse => "0610",
            Mti::NetworkRequest => "0800",
            Mti::NetworkResponse => "0810",
        }
    }

    /// The type with these four digits.
    pub fn from_code(code: &str) -> Option<Mti> {
        Mti::ALL.into_iter().find(|m| m.code() == code)
    }

    /// The response to a request type (`None` for a response).
    pub fn response(self) -> Option<Mti> {
        match self {
            Mti::FinancialRequest => Some(Mti::FinancialResponse),
            Mti::ReversalAdvice => Some(Mti::ReversalAdviceResponse),
            Mti::StatusInquiry => Some(Mti::StatusInquiryResponse),
            Mti::NetworkRequest => Some(Mti::NetworkResponse),
            _ => None,
        }
    }
}

/// The response code, DE 39: approved, or why not. Each decline class has exactly one code.
///
/// | code | meaning | class |
/// |---|---|---|
/// | 00 | approved | |
/// | 03 | invalid merchant | `merchant_invalid` |
/// | 06 | error at the acquirer | `acquirer_error` |
/// | 12 | invalid transaction: already reversed | `reversed_before_arrival` |
/// | 25 | unable to locate the original (inquiry) | |
/// | 30 | format error: the code does not verify | `malformed_qr` |
/// | 51 | insufficient funds | `insufficient_balance` |
/// | 54 | expired instrument: the dynamic code expired | `expired_qr` |
/// | 55 | incorrect PIN | `pin_failure` |
/// | 59 | suspected fraud | `risk_decline` |
/// | 61 | exceeds amount limit | `limit_exceeded` |
/// | 91 | issuer inoperative | `issuer_unavailable` |
/// | 92 | unable to route: a node refused the request (queue full) | `node_overloaded` |
/// | 96 | system malfunction at the switch or scheme | `switch_error` |
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResponseCode {
    /// 00.
    Approved,
    /// A decline, by class.
    Declined(Decline),
    /// 25: the original is unknown here (an inquiry about a payment that never arrived).
    NotFound,
}

impl ResponseCode {
    /// The two characters of DE 39.
    pub fn code(self) -> &'static str {
        match self {
            ResponseCode::Approved => "00",
            ResponseCode::NotFound => "25",
            ResponseCode::Declined(d) => match d {
                Decline::MerchantInvalid => "03",
                Decline::AcquirerError => "06",
                Decline::Reversed => "12",
                Decline::MalformedQr => "30",
                Decline::InsufficientBalance => "51",
                Decline::ExpiredQr => "54",
                Decline::PinFailure => "55",
                Decline::RiskDecline => "59",
                Decline::LimitExceeded => "61",
                Decline::IssuerUnavailable => "91",
                Decline::NodeOverloaded => "92",
                Decline::Throttled => "65",
                Decline::HopTimeout => "68",
                Decline::CircuitOpen => "98",
                Decline::InsufficientLiquidity => "L1",
                Decline::SwitchError => "96",
            },
        }
    }

    /// The response code written `code`.
    pub fn from_code(code: &str) -> Option<ResponseCode> {
        let all = [ResponseCode::Approved, ResponseCode::NotFound]
            .into_iter()
            .chain(Decline::ALL.into_iter().map(ResponseCode::Declined));
        all.into_iter().find(|r| r.code() == code)
    }
}

/// The system trace audit number, DE 11: six digits, unique per originator per day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stan(u32);

impl Stan {
    /// The largest STAN.
    pub const MAX: u32 = 999_999;

    /// A STAN, if it has at most six digits.
    pub fn new(n: u32) -> Option<Stan> {
        (n <= Self::MAX).then_some(Stan(n))
    }

    /// The STAN of a payment's sequence number (its last six digits).
    pub fn of_sequence(seq: u64) -> Stan {
        Stan((seq % (u64::from(Self::MAX) + 1)) as u32)
    }

    /// Its number.
    pub fn get(self) -> u32 {
        self.0
    }
}

/// One message between two participants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message {
    /// Its type.
    pub mti: Mti,
    /// DE 11.
    pub stan: Stan,
    /// DE 37: the payment's reference, the same on every message of the payment.
    pub rrn: Rrn,
    /// DE 4 and 49: the amount in the transaction (payee's) currency.
    pub amount: Money,
    /// DE 6 and 51: the amount in the billing (payer's) currency, when it differs.
    pub billing: Option<Money>,
    /// DE 10: the conversion rate applied, billing units per transaction unit.
    pub rate: Option<Decimal>,
    /// DE 39, on responses.
    pub response: Option<ResponseCode>,
}

impl Message {
    /// A request of type `mti` for a payment.
    pub fn request(mti: Mti, stan: Stan, rrn: Rrn, amount: Money) -> Message {
        Message { mti, stan, rrn, amount, billing: None, rate: None, response: None }
    }

    /// The response to this request, with `code`.
    ///
    /// # Panics
    /// If this message is itself a response.
    pub fn respond(&self, code: ResponseCode) -> Message {
        let mti = self.mti.response().expect("only a request has a response");
        Message { mti, response: Some(code), ..*self }
    }
}

#[cfg(test)]
mod tests {
    //! Goal: every code round-trips, each decline class has its own code, and responses answer
    //! their requests. Method: exhaustive over the enums.

    use super::*;
    use crate::payments::money::Currency;

    #[test]
    fn codes_round_trip_and_are_distinct() {
        for mti in Mti::ALL {
            assert_eq!(Mti::from_code(mti.code()), Some(mti));
        }
        let mut seen = std::collections::BTreeSet::new();
        for d in Decline::ALL {
            let code = ResponseCode::Declined(d);
            assert_eq!(ResponseCode::from_code(code.code()), Some(code));
            assert!(seen.insert(code.code()), "{d:?} shares a code");
        }
        assert!(!seen.contains("00") && !seen.contains("25"));
        assert_eq!(ResponseCode::from_code("99"), None);
    }

    #[test]
    fn a_response_answers_its_request() {
        let rrn = Rrn::new(42).expect("rrn");
        let stan = Stan::of_sequence(1_234_567);
        assert_eq!(stan.get(), 234_567);
        let request =
            Message::request(Mti::FinancialRequest, stan, rrn, Money::new(Currency::Khr, 40_000));
        let response = request.respond(ResponseCode::Approved);
        assert_eq!(response.mti, Mti::FinancialResponse);
        assert_eq!((response.stan, response.rrn, response.amount), (stan, rrn, request.amount));
        assert_eq!(Mti::ReversalAdvice.response(), Some(Mti::ReversalAdviceResponse));
        assert_eq!(Mti::FinancialResponse.response(), None);
    }
}
