//! ISO 8583 on the wire: the codec between the protocol's [`Message`]s and the bytes a link
//! carries, sans-IO.
//!
//! * **Framing.** Every message is a two-byte big-endian length, then that many bytes.
//!   [`FrameReader`] cuts frames out of whatever a socket delivered; frames above
//!   [`FRAME_BYTES_MAX`] are refused before they are buffered.
//! * **Layout.** The four ASCII digits of the MTI, the primary bitmap (8 bytes, binary), the
//!   secondary bitmap when a field above 64 is present, then the fields in number order. Field
//!   formats are ISO 8583:1987's as `pyiso8583`'s `default` specification writes them (ASCII
//!   data, ASCII length prefixes, binary bitmaps and MAC), so a standard decoder reads our frames
//!   and we read its; `tests/it/iso8583.rs` checks this against `pyiso8583` both ways.
//! * **Authentication.** Every frame ends with its MAC: HMAC-SHA256 under the link's key over
//!   every byte before the MAC field, truncated to the eight bytes of DE 64 (DE 128 when the
//!   secondary bitmap is present), compared in constant time. 64-bit MACs are what retail
//!   payment networks carry (ANSI X9.19); a forger gets one try per frame, and the receiver
//!   counts the failures.
//!
//! Fields we use: 3 processing code, 4/49 amount and currency, 6/51 billing amount and currency,
//! 7 transmission time (UTC, `MMDDhhmmss`), 10 conversion rate, 11 STAN, 32 acquiring (originating)
//! institution, 33 forwarding institution, 37 RRN, 39 response code, 48 the merchant code's MD5
//! (Bakong's lookup key), 64/128 MAC, 70 network management code, 90 original data elements,
//! 100 receiving institution, 102 payer account, 103 payee account. A bitmap naming any other
//! field is refused with its number and offset.

use std::collections::BTreeMap;
use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use rust_decimal::{Decimal, RoundingStrategy};
use sha2::Sha256;

use super::message::{Message, Mti, ResponseCode, Stan};
use crate::payments::clearing::Rrn;
use crate::payments::money::{AMOUNT_MINOR_MAX, Currency, Money};
use crate::payments::time::{Date, Timestamp};

/// The largest frame we accept or write, length prefix excluded. A payment message of ours is
/// under 300 bytes; the two-byte prefix would allow 65,535.
pub const FRAME_BYTES_MAX: usize = 4096;

/// The bytes of DE 64 and DE 128.
pub const MAC_BYTES: usize = 8;

/// The bytes of a link key.
pub const KEY_BYTES: usize = 32;

/// How a field's length is given.
#[derive(Clone, Copy, Debug)]
enum Length {
    /// Always this many bytes.
    Fixed(usize),
    /// Two ASCII digits of length, then at most this many bytes.
    Ll(usize),
    /// Three ASCII digits of length, then at most this many bytes.
    Lll(usize),
}

/// What a field's bytes may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Charset {
    /// ASCII digits.
    Numeric,
    /// Printable ASCII.
    Text,
    /// Any byte.
    Binary,
}

#[derive(Clone, Copy, Debug)]
struct FieldSpec {
    length: Length,
    charset: Charset,
}

const fn field(length: Length, charset: Charset) -> Option<FieldSpec> {
    Some(FieldSpec { length, charset })
}

/// The format of each field we use; `None` for the others.
fn spec(number: u8) -> Option<FieldSpec> {
    use Charset::{Binary, Numeric, Text};
    use Length::{Fixed, Ll, Lll};
    match number {
        3 | 11 => field(Fixed(6), Numeric),
        4 | 6 => field(Fixed(12), Numeric),
        7 => field(Fixed(10), Numeric),
        10 => field(Fixed(8), Numeric),
        32 | 33 | 100 => field(Ll(11), Numeric),
        37 => field(Fixed(12), Text),
        39 => field(Fixed(2), Text),
        48 => field(Lll(999), Text),
        49 | 51 | 70 => field(Fixed(3), Numeric),
        64 | 128 => field(Fixed(MAC_BYTES), Binary),
        90 => field(Fixed(42), Numeric),
        102 | 103 => field(Ll(28), Text),
        _ => None,
    }
}

/// What is wrong with a frame, where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("ISO 8583 frame, byte {offset}{}: {kind}", field_text(*field))]
pub struct CodecError {
    /// Byte offset in the frame (after the length prefix).
    pub offset: usize,
    /// The field, when one is at fault.
    pub field: Option<u8>,
    /// What is wrong.
    pub kind: CodecErrorKind,
}

fn field_text(field: Option<u8>) -> String {
    field.map(|f| format!(", DE {f}")).unwrap_or_default()
}

/// What is wrong with a frame.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[allow(missing_docs)]
pub enum CodecErrorKind {
    #[error("the frame ends early")]
    Truncated,
    #[error("{len} bytes is over the frame limit of {FRAME_BYTES_MAX}")]
    FrameTooLong { len: usize },
    #[error("the MTI {0:?} is not one we carry")]
    UnknownMti(String),
    #[error("the bitmap names a field we do not carry")]
    UnsupportedField,
    #[error("a numeric field holds a non-digit")]
    NotNumeric,
    #[error("a text field holds a byte that is not printable ASCII")]
    NotText,
    #[error("the length prefix {0:?} is not digits")]
    BadLengthPrefix(String),
    #[error("{len} bytes is over the field's maximum of {max}")]
    FieldTooLong { len: usize, max: usize },
    #[error("{0} bytes follow the last field")]
    TrailingBytes(usize),
    #[error("the MAC field is missing or not the last field")]
    MacMissing,
    #[error("the MAC does not verify under this link's key")]
    MacInvalid,
    #[error("required for this message type and missing")]
    Missing,
    #[error("the value {0:?} is not valid here")]
    BadValue(String),
}

fn error(offset: usize, field: Option<u8>, kind: CodecErrorKind) -> CodecError {
    CodecError { offset, field, kind }
}

/// A link key (HMAC-SHA256).
#[derive(Clone, PartialEq, Eq)]
pub struct MacKey([u8; KEY_BYTES]);

impl MacKey {
    /// A key from its bytes.
    pub fn new(bytes: [u8; KEY_BYTES]) -> MacKey {
        MacKey(bytes)
    }

    /// A key from 64 hex digits.
    pub fn from_hex(text: &str) -> Option<MacKey> {
        from_hex(text).map(MacKey)
    }

    /// Its 64 hex digits.
    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }

    fn mac(&self, data: &[u8]) -> [u8; MAC_BYTES] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(data);
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; MAC_BYTES];
        out.copy_from_slice(&full[..MAC_BYTES]);
        out
    }

    fn verify(&self, data: &[u8], tag: &[u8]) -> bool {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(data);
        mac.verify_truncated_left(tag).is_ok()
    }
}

impl fmt::Debug for MacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MacKey(..)")
    }
}

/// A frame's fields as bytes, before any meaning is given to them: what a standard decoder
/// such as `pyiso8583` also produces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawMessage {
    /// The MTI's four digits.
    pub mti: [u8; 4],
    /// Each present field's bytes, by number (2–128).
    pub fields: BTreeMap<u8, Vec<u8>>,
}

impl RawMessage {
    /// Parses a frame (without its length prefix), checking every field's format.
    pub fn parse(frame: &[u8]) -> Result<RawMessage, CodecError> {
        if frame.len() > FRAME_BYTES_MAX {
            return Err(error(0, None, CodecErrorKind::FrameTooLong { len: frame.len() }));
        }
        let mti_bytes = frame.get(..4).ok_or(error(0, None, CodecErrorKind::Truncated))?;
        let mut mti = [0u8; 4];
        mti.copy_from_slice(mti_bytes);
        if !mti.iter().all(u8::is_ascii_digit) {
            let text = String::from_utf8_lossy(&mti).into_owned();
            return Err(error(0, None, CodecErrorKind::UnknownMti(text)));
        }
        let mut at = 4;
        let primary = take(frame, &mut at, 8, None)?;
        let mut bitmap = [0u8; 16];
        bitmap[..8].copy_from_slice(primary);
        if primary[0] & 0x80 != 0 {
            let secondary = take(frame, &mut at, 8, Some(1))?;
            bitmap[8..].copy_from_slice(secondary);
        }
        let mut fields = BTreeMap::new();
        for number in 2u8..=128 {
            let bit = usize::from(number - 1);
            if bitmap[bit / 8] & (0x80 >> (bit % 8)) == 0 {
                continue;
            }
            let start = at;
            let spec =
                spec(number).ok_or(error(start, Some(number), CodecErrorKind::UnsupportedField))?;
            let len = match spec.length {
                Length::Fixed(n) => n,
                Length::Ll(max) => var_length(frame, &mut at, 2, max, number)?,
                Length::Lll(max) => var_length(frame, &mut at, 3, max, number)?,
            };
            let data_at = at;
            let data = take(frame, &mut at, len, Some(number))?;
            check_charset(data, spec.charset, data_at, number)?;
            fields.insert(number, data.to_vec());
        }
        if at != frame.len() {
            return Err(error(at, None, CodecErrorKind::TrailingBytes(frame.len() - at)));
        }
        Ok(RawMessage { mti, fields })
    }

    /// Writes the frame (without its length prefix), checking every field's format.
    pub fn write(&self) -> Result<Vec<u8>, CodecError> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(&self.mti);
        let mut bitmap = [0u8; 16];
        let secondary = self.fields.keys().any(|&n| n > 64);
        if secondary {
            bitmap[0] |= 0x80;
        }
        for &number in self.fields.keys() {
            if !(2..=128).contains(&number) {
                return Err(error(0, Some(number), CodecErrorKind::UnsupportedField));
            }
            let bit = usize::from(number - 1);
            bitmap[bit / 8] |= 0x80 >> (bit % 8);
        }
        out.extend_from_slice(&bitmap[..if secondary { 16 } else { 8 }]);
        for (&number, data) in &self.fields {
            let at = out.len();
            let spec =
                spec(number).ok_or(error(at, Some(number), CodecErrorKind::UnsupportedField))?;
            check_charset(data, spec.charset, at, number)?;
            let too_long = |max| {
                error(at, Some(number), CodecErrorKind::FieldTooLong { len: data.len(), max })
            };
            match spec.length {
                Length::Fixed(n) if data.len() != n => {
                    return Err(error(
                        at,
                        Some(number),
                        CodecErrorKind::BadValue(format!("{} bytes, not {n}", data.len())),
                    ));
                }
                Length::Fixed(_) => {}
                Length::Ll(max) if data.len() > max => return Err(too_long(max)),
                Length::Ll(_) => out.extend_from_slice(format!("{:02}", data.len()).as_bytes()),
                Length::Lll(max) if data.len() > max => return Err(too_long(max)),
                Length::Lll(_) => out.extend_from_slice(format!("{:03}", data.len()).as_bytes()),
            }
            out.extend_from_slice(data);
        }
        if out.len() > FRAME_BYTES_MAX {
            return Err(error(0, None, CodecErrorKind::FrameTooLong { len: out.len() }));
        }
        Ok(out)
    }

    fn text(&self, number: u8) -> Option<&str> {
        self.fields.get(&number).and_then(|b| std::str::from_utf8(b).ok())
    }
}

fn take<'a>(
    frame: &'a [u8],
    at: &mut usize,
    n: usize,
    field: Option<u8>,
) -> Result<&'a [u8], CodecError> {
    let end = at.checked_add(n).filter(|&e| e <= frame.len());
    let end = end.ok_or(error(*at, field, CodecErrorKind::Truncated))?;
    let data = &frame[*at..end];
    *at = end;
    Ok(data)
}

fn var_length(
    frame: &[u8],
    at: &mut usize,
    digits: usize,
    max: usize,
    number: u8,
) -> Result<usize, CodecError> {
    let start = *at;
    let prefix = take(frame, at, digits, Some(number))?;
    if !prefix.iter().all(u8::is_ascii_digit) {
        let text = String::from_utf8_lossy(prefix).into_owned();
        return Err(error(start, Some(number), CodecErrorKind::BadLengthPrefix(text)));
    }
    let len = prefix.iter().fold(0usize, |n, d| n * 10 + usize::from(d - b'0'));
    if len > max {
        return Err(error(start, Some(number), CodecErrorKind::FieldTooLong { len, max }));
    }
    Ok(len)
}

fn check_charset(data: &[u8], charset: Charset, at: usize, number: u8) -> Result<(), CodecError> {
    let bad = match charset {
        Charset::Numeric => {
            data.iter().position(|b| !b.is_ascii_digit()).map(|i| (i, CodecErrorKind::NotNumeric))
        }
        Charset::Text => data
            .iter()
            .position(|&b| !(0x20..=0x7e).contains(&b))
            .map(|i| (i, CodecErrorKind::NotText)),
        Charset::Binary => None,
    };
    match bad {
        Some((i, kind)) => Err(error(at + i, Some(number), kind)),
        None => Ok(()),
    }
}

/// An institution identification code (DE 32, 33, 100): up to 11 digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstitutionId(u64);

impl InstitutionId {
    /// The largest code.
    pub const MAX: u64 = 99_999_999_999;

    /// A code, if it has at most 11 digits.
    pub fn new(n: u64) -> Option<InstitutionId> {
        (n <= Self::MAX).then_some(InstitutionId(n))
    }

    /// Its number.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// DE 7 and the time inside DE 90: month, day and time of day in UTC (the year is not sent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransmissionTime {
    /// 1–12.
    pub month: u8,
    /// 1–31.
    pub day: u8,
    /// Seconds since midnight UTC.
    pub second_of_day: u32,
}

impl TransmissionTime {
    /// The transmission time of an instant, to the second (truncated).
    pub fn of(at: Timestamp) -> TransmissionTime {
        let secs = at.as_nanos() / 1_000_000_000;
        let days = i64::try_from(secs / 86_400).expect("u64 seconds / 86,400 fits i64");
        let date = Date::from_days_since_epoch(days);
        let second_of_day = u32::try_from(secs % 86_400).expect("under 86,400");
        TransmissionTime { month: date.month, day: date.day, second_of_day }
    }

    fn digits(self) -> String {
        let s = self.second_of_day;
        format!("{:02}{:02}{:02}{:02}{:02}", self.month, self.day, s / 3600, s / 60 % 60, s % 60)
    }

    fn parse(text: &str) -> Option<TransmissionTime> {
        let n = |r: std::ops::Range<usize>| text.get(r)?.parse::<u32>().ok();
        let (month, day) = (n(0..2)?, n(2..4)?);
        let (h, m, s) = (n(4..6)?, n(6..8)?, n(8..10)?);
        let valid =
            (1..=12).contains(&month) && (1..=31).contains(&day) && h < 24 && m < 60 && s < 60;
        valid.then(|| TransmissionTime {
            month: u8::try_from(month).expect("1..=12"),
            day: u8::try_from(day).expect("1..=31"),
            second_of_day: h * 3600 + m * 60 + s,
        })
    }
}

/// DE 3's first two digits: what the payment is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Processing {
    /// 00: a purchase (a merchant payment).
    Purchase,
    /// 40: a transfer between accounts (a remittance).
    Transfer,
}

impl Processing {
    fn code(self) -> &'static str {
        match self {
            Processing::Purchase => "000000",
            Processing::Transfer => "400000",
        }
    }
}

/// DE 90: which message a reversal or inquiry is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Original {
    /// The original's type.
    pub mti: Mti,
    /// The original's STAN.
    pub stan: Stan,
    /// The original's transmission time.
    pub sent: TransmissionTime,
    /// The original's acquiring institution.
    pub acquirer: InstitutionId,
}

/// A payment message with what the wire adds to the protocol's [`Message`]: who sent it and
/// for whom, when, and which accounts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentFrame {
    /// MTI, STAN, RRN, amounts, rate, response code.
    pub message: Message,
    /// DE 3.
    pub processing: Processing,
    /// DE 7.
    pub sent: TransmissionTime,
    /// DE 32: the participant where the payment started.
    pub acquirer: InstitutionId,
    /// DE 33: the participant that forwarded this message, when not the acquirer.
    pub forwarder: Option<InstitutionId>,
    /// DE 100: the participant the payment is for.
    pub receiver: Option<InstitutionId>,
    /// DE 102.
    pub payer: Option<String>,
    /// DE 103.
    pub payee: Option<String>,
    /// DE 48: the MD5 of the merchant code the payer scanned.
    pub qr_md5: Option<[u8; 16]>,
    /// DE 90, on reversal advices and inquiries and their answers.
    pub original: Option<Original>,
}

/// DE 70.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetworkCode {
    /// 001: sign on.
    SignOn,
    /// 002: sign off.
    SignOff,
    /// 301: echo test.
    Echo,
}

impl NetworkCode {
    fn code(self) -> &'static str {
        match self {
            NetworkCode::SignOn => "001",
            NetworkCode::SignOff => "002",
            NetworkCode::Echo => "301",
        }
    }
}

/// A network management message (0800/0810).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetworkFrame {
    /// 0800 or 0810.
    pub response: Option<ResponseCode>,
    /// DE 11.
    pub stan: Stan,
    /// DE 7.
    pub sent: TransmissionTime,
    /// DE 33: the participant signing on or echoing.
    pub sender: InstitutionId,
    /// DE 70.
    pub code: NetworkCode,
}

/// Any message a link carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// 0200/0210, 0420/0430, 0600/0610.
    Payment(PaymentFrame),
    /// 0800/0810.
    Network(NetworkFrame),
}

impl Frame {
    /// The institution whose key signs this frame: the forwarder when there is one, else the
    /// acquirer (payments) or the sender (network management).
    pub fn signer(&self) -> InstitutionId {
        match self {
            Frame::Payment(p) => p.forwarder.unwrap_or(p.acquirer),
            Frame::Network(n) => n.sender,
        }
    }

    /// Its STAN.
    pub fn stan(&self) -> Stan {
        match self {
            Frame::Payment(p) => p.message.stan,
            Frame::Network(n) => n.stan,
        }
    }

    /// Its fields, without the MAC.
    pub fn to_raw(&self) -> Result<RawMessage, CodecError> {
        let mut f = BTreeMap::new();
        let mut put = |n: u8, text: String| f.insert(n, text.into_bytes());
        let mti = match self {
            Frame::Network(n) => {
                put(7, n.sent.digits());
                put(11, format!("{:06}", n.stan.get()));
                put(33, n.sender.get().to_string());
                if let Some(code) = n.response {
                    put(39, code.code().to_string());
                }
                put(70, n.code.code().to_string());
                if n.response.is_some() { Mti::NetworkResponse } else { Mti::NetworkRequest }
            }
            Frame::Payment(p) => {
                let m = &p.message;
                put(3, p.processing.code().to_string());
                put(4, amount_digits(m.amount)?);
                put(7, p.sent.digits());
                put(11, format!("{:06}", m.stan.get()));
                put(32, p.acquirer.get().to_string());
                if let Some(fwd) = p.forwarder {
                    put(33, fwd.get().to_string());
                }
                put(37, m.rrn.to_string());
                if let Some(code) = m.response {
                    put(39, code.code().to_string());
                }
                if let Some(md5) = p.qr_md5 {
                    put(48, to_hex(&md5));
                }
                put(49, format!("{:03}", m.amount.currency.numeric()));
                if let Some(billing) = m.billing {
                    put(6, amount_digits(billing)?);
                    put(51, format!("{:03}", billing.currency.numeric()));
                }
                if let Some(rate) = m.rate {
                    put(10, rate_digits(rate)?);
                }
                if let Some(o) = p.original {
                    put(
                        90,
                        format!(
                            "{}{:06}{}{:011}{:011}",
                            o.mti.code(),
                            o.stan.get(),
                            o.sent.digits(),
                            o.acquirer.get(),
                            0
                        ),
                    );
                }
                if let Some(r) = p.receiver {
                    put(100, r.get().to_string());
                }
                if let Some(payer) = &p.payer {
                    put(102, payer.clone());
                }
                if let Some(payee) = &p.payee {
                    put(103, payee.clone());
                }
                m.mti
            }
        };
        let mut mti_bytes = [0u8; 4];
        mti_bytes.copy_from_slice(mti.code().as_bytes());
        Ok(RawMessage { mti: mti_bytes, fields: f })
    }

    /// The meaning of a parsed frame's fields (the MAC, if present, is ignored here).
    pub fn from_raw(raw: &RawMessage) -> Result<Frame, CodecError> {
        let mti_text = String::from_utf8_lossy(&raw.mti).into_owned();
        let mti = Mti::from_code(&mti_text).ok_or(error(
            0,
            None,
            CodecErrorKind::UnknownMti(mti_text),
        ))?;
        let need = |n: u8| raw.text(n).ok_or(error(0, Some(n), CodecErrorKind::Missing));
        let bad = |n: u8, v: &str| error(0, Some(n), CodecErrorKind::BadValue(v.to_string()));
        let stan_text = need(11)?;
        let stan = stan_text.parse().ok().and_then(Stan::new).ok_or(bad(11, stan_text))?;
        let sent_text = need(7)?;
        let sent = TransmissionTime::parse(sent_text).ok_or(bad(7, sent_text))?;
        let institution = |n: u8| -> Result<Option<InstitutionId>, CodecError> {
            raw.text(n)
                .map(|t| t.parse().ok().and_then(InstitutionId::new).ok_or(bad(n, t)))
                .transpose()
        };
        let response =
            raw.text(39).map(|t| ResponseCode::from_code(t).ok_or(bad(39, t))).transpose()?;
        let is_response = mti.response().is_none();
        if is_response && response.is_none() {
            return Err(error(0, Some(39), CodecErrorKind::Missing));
        }
        if !is_response && response.is_some() {
            return Err(bad(39, "a request carries no response code"));
        }
        if matches!(mti, Mti::NetworkRequest | Mti::NetworkResponse) {
            let code_text = need(70)?;
            let code = [NetworkCode::SignOn, NetworkCode::SignOff, NetworkCode::Echo]
                .into_iter()
                .find(|c| c.code() == code_text)
                .ok_or(bad(70, code_text))?;
            let sender = institution(33)?.ok_or(error(0, Some(33), CodecErrorKind::Missing))?;
            return Ok(Frame::Network(NetworkFrame { response, stan, sent, sender, code }));
        }
        let processing = match need(3)? {
            "000000" => Processing::Purchase,
            "400000" => Processing::Transfer,
            other => return Err(bad(3, other)),
        };
        let amount = money(raw, 4, 49)?.ok_or(error(0, Some(4), CodecErrorKind::Missing))?;
        let billing = money(raw, 6, 51)?;
        let rrn_text = need(37)?;
        let rrn = rrn_text.parse().ok().and_then(Rrn::new).ok_or(bad(37, rrn_text))?;
        let rate = raw.text(10).map(|t| parse_rate(t).ok_or(bad(10, t))).transpose()?;
        let qr_md5 = raw.text(48).map(|t| from_hex(t).ok_or(bad(48, t))).transpose()?;
        let original = raw.text(90).map(|t| parse_original(t).ok_or(bad(90, t))).transpose()?;
        let acquirer = institution(32)?.ok_or(error(0, Some(32), CodecErrorKind::Missing))?;
        let message = Message { mti, stan, rrn, amount, billing, rate, response };
        Ok(Frame::Payment(PaymentFrame {
            message,
            processing,
            sent,
            acquirer,
            forwarder: institution(33)?,
            receiver: institution(100)?,
            payer: raw.text(102).map(str::to_string),
            payee: raw.text(103).map(str::to_string),
            qr_md5,
            original,
        }))
    }
}

fn amount_digits(m: Money) -> Result<String, CodecError> {
    let minor = m.minor;
    if !(0..=AMOUNT_MINOR_MAX).contains(&minor) {
        return Err(error(0, Some(4), CodecErrorKind::BadValue(minor.to_string())));
    }
    Ok(format!("{minor:012}"))
}

fn money(raw: &RawMessage, amount: u8, currency: u8) -> Result<Option<Money>, CodecError> {
    let (Some(a), Some(c)) = (raw.text(amount), raw.text(currency)) else {
        return match (raw.fields.contains_key(&amount), raw.fields.contains_key(&currency)) {
            (false, false) => Ok(None),
            (true, _) => Err(error(0, Some(currency), CodecErrorKind::Missing)),
            (false, true) => Err(error(0, Some(amount), CodecErrorKind::Missing)),
        };
    };
    let cur = c.parse().ok().and_then(Currency::from_numeric);
    let cur = cur.ok_or(error(0, Some(currency), CodecErrorKind::BadValue(c.to_string())))?;
    let minor: i64 =
        a.parse().map_err(|_| error(0, Some(amount), CodecErrorKind::BadValue(a.to_string())))?;
    Ok(Some(Money::new(cur, minor)))
}

/// DE 10: one digit giving the decimal places, then seven digits. The rate is rounded half to
/// even to the most places that fit (a rate is informative on the wire; DE 4 and DE 6 are
/// what is booked).
fn rate_digits(rate: Decimal) -> Result<String, CodecError> {
    let bad = || error(0, Some(10), CodecErrorKind::BadValue(rate.to_string()));
    if rate.is_sign_negative() {
        return Err(bad());
    }
    for places in (0u32..=7).rev() {
        let scaled = rate.round_dp_with_strategy(places, RoundingStrategy::MidpointNearestEven);
        let mantissa = scaled.mantissa() * 10i128.pow(places - scaled.scale().min(places));
        if mantissa <= 9_999_999 {
            return Ok(format!("{places}{mantissa:07}"));
        }
    }
    Err(bad())
}

fn parse_rate(text: &str) -> Option<Decimal> {
    let places = text.get(..1)?.parse::<u32>().ok()?;
    let mantissa = text.get(1..)?.parse::<i64>().ok()?;
    (places <= 7).then(|| Decimal::new(mantissa, places))
}

/// `N` bytes from exactly `2N` hex digits.
fn from_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = text.as_bytes();
    if bytes.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        out[i] = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

/// Lower-case hex digits of `bytes`.
fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_original(text: &str) -> Option<Original> {
    let mti = Mti::from_code(text.get(0..4)?)?;
    let stan = Stan::new(text.get(4..10)?.parse().ok()?)?;
    let sent = TransmissionTime::parse(text.get(10..20)?)?;
    let acquirer = InstitutionId::new(text.get(20..31)?.parse().ok()?)?;
    Some(Original { mti, stan, sent, acquirer })
}

/// The frame's bytes (without the length prefix) with its MAC under `key` as the last field.
pub fn seal(frame: &Frame, key: &MacKey) -> Result<Vec<u8>, CodecError> {
    let mut raw = frame.to_raw()?;
    let mac_field = if raw.fields.keys().any(|&n| n > 64) { 128 } else { 64 };
    raw.fields.insert(mac_field, vec![0; MAC_BYTES]);
    let mut bytes = raw.write()?;
    let body = bytes.len() - MAC_BYTES;
    let mac = key.mac(&bytes[..body]);
    bytes[body..].copy_from_slice(&mac);
    Ok(bytes)
}

/// Parses a frame (without the length prefix) and says who signed it, before the MAC is
/// checked: the receiver needs the signer to pick the key.
pub fn peek(bytes: &[u8]) -> Result<(RawMessage, Frame), CodecError> {
    let raw = RawMessage::parse(bytes)?;
    let frame = Frame::from_raw(&raw)?;
    Ok((raw, frame))
}

/// Parses a frame and checks its MAC under `key`: the MAC must be the last field, DE 128 when
/// the secondary bitmap is present, else DE 64.
pub fn open(bytes: &[u8], key: &MacKey) -> Result<Frame, CodecError> {
    let (raw, frame) = peek(bytes)?;
    verify(bytes, &raw, key)?;
    Ok(frame)
}

/// Checks the MAC of a frame already parsed by [`peek`].
pub fn verify(bytes: &[u8], raw: &RawMessage, key: &MacKey) -> Result<(), CodecError> {
    let last = raw.fields.keys().next_back().copied();
    let expected = if raw.fields.keys().any(|&n| n > 64) { 128 } else { 64 };
    if last != Some(expected) {
        return Err(error(bytes.len(), Some(expected), CodecErrorKind::MacMissing));
    }
    let body = bytes.len() - MAC_BYTES;
    if !key.verify(&bytes[..body], &bytes[body..]) {
        return Err(error(body, Some(expected), CodecErrorKind::MacInvalid));
    }
    Ok(())
}

/// The two-byte length prefix of a frame.
pub fn prefix(frame: &[u8]) -> [u8; 2] {
    assert!(frame.len() <= FRAME_BYTES_MAX, "frames are checked against the limit when written");
    u16::try_from(frame.len()).expect("under FRAME_BYTES_MAX").to_be_bytes()
}

/// Cuts length-prefixed frames out of a byte stream, sans-IO: push what the socket gave, take
/// whole frames.
#[derive(Debug, Default)]
pub struct FrameReader {
    buffer: Vec<u8>,
    start: usize,
}

impl FrameReader {
    /// An empty reader.
    pub fn new() -> FrameReader {
        FrameReader::default()
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buffer.len() {
            self.buffer.clear();
            self.start = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole frame, `None` until one has arrived, or an error when the prefix names a
    /// frame over the limit (the stream cannot be trusted after that).
    pub fn next_frame(&mut self) -> Option<Result<Vec<u8>, CodecError>> {
        let pending = &self.buffer[self.start..];
        let [hi, lo, ..] = *pending else { return None };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if len > FRAME_BYTES_MAX {
            return Some(Err(error(0, None, CodecErrorKind::FrameTooLong { len })));
        }
        if pending.len() < 2 + len {
            if self.start > FRAME_BYTES_MAX {
                self.buffer.drain(..self.start);
                self.start = 0;
            }
            return None;
        }
        let frame = pending[2..2 + len].to_vec();
        self.start += 2 + len;
        Some(Ok(frame))
    }

    /// Bytes received and not yet returned as a frame.
    pub fn buffered(&self) -> usize {
        self.buffer.len() - self.start
    }
}

#[cfg(test)]
mod tests;
