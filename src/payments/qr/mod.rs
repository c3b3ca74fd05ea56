//! The QR core: EMVCo Merchant-Presented Mode codes (KHQR, UnionPay MPM) and the URL codes of
//! WeChat Pay and mainland UnionPay.
//!
//! * [`tlv`]: the TLV lexer, CRC-16/CCITT-FALSE and the writer; located [`DecodeError`]s.
//! * [`decode()`] / [`lex`]: a borrowed view of a payload with typed accessors.
//! * [`verify()`]: strict rules, or the official SDK's verdicts ([`Mode::SdkCompatible`]).
//! * [`encode()`]: KHQR byte-identical to `bakong-khqr` 1.0.20, and UnionPay MPM codes.
//! * [`classify()`]: which kind of code a scanned payload is, for routing.
//!
//! Pure: no I/O, no clock (times are parameters), no randomness, no floating point. No input,
//! however malformed, makes any function here panic.

pub mod classify;
pub mod decode;
pub mod encode;
pub mod rules;
pub mod tlv;
pub mod verify;

#[cfg(test)]
mod tests;

pub use classify::{PayloadKind, classify, classify_decoded};
pub use decode::{Decoded, decode, lex};
pub use encode::{AmountInput, CodeKind, EncodeSpec, encode};
pub use rules::{ErrorCode, Place, Rule, Violation};
pub use tlv::{DecodeError, DecodeErrorKind};
pub use verify::{Failure, Mode, verify};

use md5::{Digest, Md5};

/// Lower-case hex MD5 of the whole payload (CRC included) over its UTF-8 bytes: the key of
/// Bakong's `check_transaction_by_md5` lookup.
pub fn md5_hex(payload: &str) -> String {
    let digest = Md5::digest(payload.as_bytes());
    let mut out = String::with_capacity(32);
    for byte in digest {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xF)]));
    }
    out
}

/// ISO 4217 currencies that appear in the codes we meet: (numeric, alpha, minor-unit exponent).
const CURRENCIES: [(&str, &str, usize); 16] = [
    ("116", "KHR", 2),
    ("156", "CNY", 2),
    ("344", "HKD", 2),
    ("360", "IDR", 2),
    ("392", "JPY", 0),
    ("410", "KRW", 0),
    ("418", "LAK", 2),
    ("458", "MYR", 2),
    ("496", "MNT", 2),
    ("608", "PHP", 2),
    ("702", "SGD", 2),
    ("704", "VND", 0),
    ("764", "THB", 2),
    ("840", "USD", 2),
    ("978", "EUR", 2),
    ("986", "BRL", 2),
];

/// The ISO 4217 alpha code for a numeric code, for the currencies in our table.
pub fn currency_alpha(numeric: &str) -> Option<&'static str> {
    CURRENCIES.iter().find(|(n, _, _)| *n == numeric).map(|(_, a, _)| *a)
}

/// The ISO 4217 numeric code for an alpha code (any case), for the currencies in our table.
pub fn currency_numeric(alpha: &str) -> Option<u16> {
    let (numeric, _, _) = CURRENCIES.iter().find(|(_, a, _)| a.eq_ignore_ascii_case(alpha))?;
    numeric.parse().ok()
}

/// The ISO 4217 minor-unit exponent for a numeric code, for the currencies in our table.
pub fn currency_exponent(numeric: &str) -> Option<usize> {
    CURRENCIES.iter().find(|(n, _, _)| *n == numeric).map(|(_, _, e)| *e)
}
