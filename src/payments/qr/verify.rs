//! Verification: strict (ours, the default) and SDK-compatible (the official SDK's verdicts).
//!
//! Both modes first check the frame (trailing `6304XXXX`, CRC over the UTF-8 bytes) and lex the
//! TLV structure. Then:
//!
//! * **Strict** applies the KHQR rules to a KHQR (a payload with a Bakong `name@bank` account
//!   template) and the EMVCo MPM rules to any other EMVCo payload, in the fixed precedence order
//!   written in `docs/qr-verification.md`, and names the first rule broken.
//! * **SDK-compatible** follows `bakong-khqr` 1.0.20's `decodeValidation.js` step by step: its
//!   known-tag list, its stop at a repeated tag, its 30-as-29 mapping, its check order, its
//!   JavaScript comparisons, and the wall-clock expiry check (with `now_ms` in place of the clock).
//!
//! The current time is a parameter; nothing here reads a clock.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

use super::currency_exponent;
use super::decode::{self, Decoded, Object, Sound, epoch_ms, parse_epoch_ms};
use super::rules::{ErrorCode, Place, Rule, Violation};
use super::tlv::{DecodeError, DecodeErrorKind, Field};

/// Which verdicts to give.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// Every rule of KHQR (or EMVCo MPM, for other EMVCo payloads); the default.
    #[default]
    Strict,
    /// The official SDK's verdicts and error codes, its leniencies included.
    SdkCompatible,
}

/// Why a payload did not verify: its structure could not be read, or it broke a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The frame or TLV structure is wrong.
    Structure(DecodeError),
    /// The structure is sound but a rule is broken.
    Rule(Violation),
}

impl Failure {
    /// A stable dotted identifier of what failed.
    pub fn id(&self) -> &'static str {
        match self {
            Failure::Structure(e) => e.kind.id(),
            Failure::Rule(v) => v.rule.id(),
        }
    }

    /// The official SDK's error code for this failure, where it has one. For the two frame
    /// stages that return no code in the SDK, the nearest code is given: a missing CRC object
    /// is 24 (CRC_TAG_REQUIRED) and a wrong CRC or a too-short payload is 8 (KHQR_INVALID).
    pub fn sdk_code(&self) -> Option<ErrorCode> {
        match self {
            Failure::Structure(e) => match e.kind {
                DecodeErrorKind::Empty | DecodeErrorKind::CrcMissing => {
                    Some(ErrorCode::CrcTagRequired)
                }
                DecodeErrorKind::CrcMismatch { .. } | DecodeErrorKind::TooShort { .. } => {
                    Some(ErrorCode::KhqrInvalid)
                }
                _ => None,
            },
            Failure::Rule(v) => v.rule.sdk_code(),
        }
    }

    /// The character offset where the failure is.
    pub fn offset(&self) -> usize {
        match self {
            Failure::Structure(e) => e.offset,
            Failure::Rule(v) => v.offset,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Structure(e) => e.fmt(f),
            Failure::Rule(v) => v.fmt(f),
        }
    }
}

/// Verifies a payload at time `now_ms` (epoch milliseconds).
///
/// # Errors
/// The first [`Failure`] in the mode's precedence order.
pub fn verify(payload: &str, now_ms: u64, mode: Mode) -> Result<(), Failure> {
    let decoded = match decode::lex(payload) {
        Ok(decoded) => decoded,
        // A URL code is not malformed EMVCo: say what it is.
        Err(_) if mode == Mode::Strict && super::classify::url_kind(payload).is_some() => {
            return Err(Failure::Rule(Violation {
                rule: Rule::NotEmvco,
                place: Place::Payload,
                offset: 0,
            }));
        }
        Err(e) => return Err(Failure::Structure(e)),
    };
    decoded.verify(now_ms, mode).map_err(Failure::Rule)
}

impl Decoded<'_> {
    /// Verifies the rules of a lexed payload at time `now_ms` (epoch milliseconds).
    ///
    /// # Errors
    /// The first [`Violation`] in the mode's precedence order.
    pub fn verify(&self, now_ms: u64, mode: Mode) -> Result<(), Violation> {
        // The common case was checked while it was lexed; only the clock is left.
        if let (Mode::Strict, Sound::Khqr { expires_at_ms }) = (mode, self.sound())
            && expires_at_ms.is_none_or(|expires| expires >= now_ms)
        {
            return Ok(());
        }
        match mode {
            Mode::SdkCompatible => compat::verify(self, now_ms),
            Mode::Strict if self.is_khqr() => strict_khqr(self, now_ms),
            Mode::Strict => strict_emvco(self),
        }
    }
}

fn at_tag(rule: Rule, field: Field<'_>) -> Violation {
    Violation { rule, place: Place::Tag(field.id), offset: field.offset }
}

fn at_sub(rule: Rule, parent: u8, field: Field<'_>) -> Violation {
    Violation { rule, place: Place::Sub(parent, field.id), offset: field.offset }
}

fn at_payload(rule: Rule) -> Violation {
    Violation { rule, place: Place::Payload, offset: 0 }
}

fn check(ok: bool, violation: impl FnOnce() -> Violation) -> Result<(), Violation> {
    if ok { Ok(()) } else { Err(violation()) }
}

/// The structural rules every strict verification starts with: 00 first and `01`, no duplicates.
fn strict_structure(d: &Decoded<'_>) -> Result<(), Violation> {
    let first = d.fields().next().expect("a decoded payload ends with its CRC object");
    check(first.id == 0, || at_tag(Rule::PfiNotFirst, first))?;
    check(d.chars(first.value) == 2, || at_tag(Rule::PfiLength, first))?;
    check(first.value == "01", || at_tag(Rule::PfiValue, first))?;
    if let Some((field, template)) = d.duplicate() {
        let place = match template {
            None => Place::Tag(field.id),
            Some(parent) => Place::Sub(parent, field.id),
        };
        return Err(Violation { rule: Rule::DuplicateId, place, offset: field.offset });
    }
    if let Some(poi) = d.field(1) {
        check(d.chars(poi.value) == 2, || at_tag(Rule::PoiLength, poi))?;
        check(matches!(poi.value, "11" | "12"), || at_tag(Rule::PoiValue, poi))?;
    }
    Ok(())
}

/// Strict KHQR rules, in precedence order (see docs/qr-verification.md).
fn strict_khqr(d: &Decoded<'_>, now_ms: u64) -> Result<(), Violation> {
    strict_structure(d)?;
    // Ascending order of root ids; the CRC object is last by construction.
    let mut fields = d.fields();
    let mut before = fields.next().expect("a decoded payload ends with its CRC object").id;
    for field in fields.take(usize::from(d.roots()).saturating_sub(2)) {
        check(before < field.id, || at_tag(Rule::TagOrder, field))?;
        before = field.id;
    }
    let dynamic = d.is_dynamic();
    let amount = d.field(54);
    if dynamic && amount.is_none() {
        return Err(at_tag(
            Rule::DynamicWithoutAmount,
            d.field(1).expect("dynamic implies tag 01"),
        ));
    }
    if let Some(amount) = amount {
        check(d.expires_at_raw().is_some(), || at_tag(Rule::ExpiryMissing, amount))?;
        check(dynamic, || at_tag(Rule::AmountOnStatic, amount))?;
    }
    strict_khqr_account(d)?;
    strict_mcc(d)?;
    let currency = required(d, 53, Rule::CurrencyMissing)?;
    check(d.chars(currency.value) == 3, || at_tag(Rule::CurrencyLength, currency))?;
    check(matches!(currency.value, "116" | "840"), || at_tag(Rule::CurrencyUnsupported, currency))?;
    if let Some(upi) = d.field(15) {
        check(currency.value != "840", || at_tag(Rule::UpiWithUsd, upi))?;
    }
    if let Some(amount) = amount {
        let decimals_max = if currency.value == "116" { 0 } else { 2 };
        check(amount_is_valid(amount.value, decimals_max), || at_tag(Rule::AmountInvalid, amount))?;
    }
    let country = required(d, 58, Rule::CountryMissing)?;
    check(d.chars(country.value) == 2, || at_tag(Rule::CountryLength, country))?;
    check(country.value == "KH", || at_tag(Rule::CountryNotKh, country))?;
    strict_name_city_postal(d)?;
    strict_additional_data(d)?;
    strict_language(d)?;
    if dynamic {
        strict_khqr_timestamps(d, now_ms)?;
    }
    Ok(())
}

/// The strict KHQR rules as one pass over the objects `lex` stored, for a payload its fast path
/// read (ASCII, ascending ids, so no duplicates and the tag order holds): `Sound::Khqr` when
/// every rule of [`strict_khqr`] but the expiry against the clock holds, else `Unchecked`. It
/// only says yes or "look again": naming the broken rule, in precedence order, is left to
/// `strict_khqr`. A proptest holds the two to the same verdict.
pub(super) fn sound_khqr(d: &Decoded<'_>) -> Sound {
    sound_khqr_expiry(d).map_or(Sound::Unchecked, |expires_at_ms| Sound::Khqr { expires_at_ms })
}

/// What the tags seen so far in [`sound_khqr_expiry`] said.
#[derive(Default)]
struct Seen<'a> {
    pfi: bool,
    dynamic: bool,
    upi: bool,
    account: bool,
    mcc: bool,
    currency: Option<&'a [u8]>,
    amount: Option<Object>,
    country: bool,
    name: bool,
    city: bool,
    /// 99/00 and 99/01.
    created: Option<&'a [u8]>,
    expires: Option<&'a [u8]>,
}

/// The verdict of [`sound_khqr`]: Some(expiry of a dynamic code) when every rule holds.
fn sound_khqr_expiry(d: &Decoded<'_>) -> Option<Option<u64>> {
    // The payload is ASCII here, so values are compared as bytes.
    let bytes = d.payload().as_bytes();
    let value = |o: &Object| &bytes[usize::from(o.start)..usize::from(o.end)];
    let within =
        |o: &Object, min: usize, max: usize| (min..=max).contains(&usize::from(o.end - o.start));
    let objects = d.objects();
    let mut seen = Seen::default();
    let mut at = 0;
    while let Some(object) = objects.get(at) {
        let subs = objects.get(at + 1..at + 1 + usize::from(object.subs))?;
        let ok = match object.id {
            0 => {
                seen.pfi = at == 0;
                value(object) == b"01"
            }
            1 => {
                let poi = value(object);
                seen.dynamic = poi == b"12";
                poi == b"11" || seen.dynamic
            }
            15 => {
                seen.upi = true;
                true
            }
            29 | 30 if seen.account => false,
            29 | 30 => {
                seen.account = true;
                sound_account(object.id, subs, &value, &within)
            }
            52 => {
                seen.mcc = true;
                let mcc = value(object);
                mcc.len() == 4 && mcc.iter().all(u8::is_ascii_digit)
            }
            53 => {
                seen.currency = Some(value(object));
                matches!(value(object), b"116" | b"840")
            }
            54 => {
                seen.amount = Some(*object);
                true
            }
            58 => {
                seen.country = true;
                value(object) == b"KH"
            }
            59 => {
                seen.name = true;
                within(object, 1, 25)
            }
            60 => {
                seen.city = true;
                within(object, 1, 15)
            }
            61 => within(object, 1, 10),
            62 => subs.iter().all(|sub| match sub.id {
                1..=8 => within(sub, 1, 25),
                9 => within(sub, 1, 3),
                10 => within(sub, 1, 20),
                11 => within(sub, 3, 3),
                _ => true,
            }),
            64 => {
                let [preference, name, city] = [0, 1, 2].map(|id| subs.iter().find(|s| s.id == id));
                preference.is_some_and(|p| within(p, 2, 2))
                    && name.is_some_and(|n| within(n, 1, 25))
                    && city.is_none_or(|c| within(c, 1, 15))
            }
            99 => {
                seen.created = subs.iter().find(|s| s.id == 0).map(&value);
                seen.expires = subs.iter().find(|s| s.id == 1).map(&value);
                true
            }
            _ => true,
        };
        if !ok {
            return None;
        }
        at += 1 + usize::from(object.subs);
    }
    sound_across(d, &seen)
}

/// The rules between tags, once every tag has been seen: Some(expiry of a dynamic code) when
/// they hold.
fn sound_across(d: &Decoded<'_>, seen: &Seen<'_>) -> Option<Option<u64>> {
    let required = seen.pfi && seen.account && seen.mcc && seen.country && seen.name && seen.city;
    let currency = seen.currency?;
    let amount_ok = match seen.amount {
        // A dynamic code has an amount, and a code with an amount is dynamic and expires.
        None => !seen.dynamic,
        Some(amount) => {
            let decimals_max = if currency == b"116" { 0 } else { 2 };
            let amount = amount.field(d.payload()).value;
            seen.dynamic && seen.expires.is_some() && amount_is_valid(amount, decimals_max)
        }
    };
    if !required || !amount_ok || (seen.upi && currency == b"840") {
        return None;
    }
    if !seen.dynamic {
        return Some(None);
    }
    let expires_at_ms = epoch_ms(seen.expires?)?;
    match seen.created.map(epoch_ms) {
        Some(None) => None,
        Some(Some(created_at_ms)) if expires_at_ms < created_at_ms => None,
        _ => Some(Some(expires_at_ms)),
    }
}

/// The Bakong account template's rules (see [`strict_khqr_account`]) over its stored objects.
fn sound_account<'a>(
    id: u8,
    subs: &[Object],
    value: &impl Fn(&Object) -> &'a [u8],
    within: &impl Fn(&Object, usize, usize) -> bool,
) -> bool {
    let [account, info, bank] = [0, 1, 2].map(|sub| subs.iter().find(|s| s.id == sub));
    let account_ok = account.is_some_and(|a| within(a, 1, 32) && account_id_shape(value(a)));
    let info_ok = match id {
        29 => info.is_none_or(|i| within(i, 1, 32)),
        _ => info.is_some_and(|i| within(i, 1, 32)),
    };
    let bank_ok = match id {
        29 => bank.is_none_or(|b| within(b, 1, 32)),
        _ => bank.is_some_and(|b| within(b, 1, 32)),
    };
    account_ok && info_ok && bank_ok
}

fn required<'a>(d: &Decoded<'a>, id: u8, rule: Rule) -> Result<Field<'a>, Violation> {
    d.field(id).ok_or_else(|| at_payload(rule))
}

/// The length of `value` (a part of `d`'s payload) in characters is within `min..=max`.
fn chars_within(d: &Decoded<'_>, value: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&d.chars(value))
}

fn strict_khqr_account(d: &Decoded<'_>) -> Result<(), Violation> {
    let template = d.bakong_account_template().expect("a KHQR has a Bakong account template");
    // The first occurrence of the other account template, whichever comes first in the payload.
    if let Some(second) = d.field(if template.id == 29 { 30 } else { 29 }) {
        return Err(at_tag(Rule::AccountBothTemplates, second));
    }
    let parent = template.id;
    let sub = |id: u8| d.sub_field(parent, id);
    let account = sub(0).filter(|f| !f.value.is_empty());
    let account = account.ok_or_else(|| at_tag(Rule::AccountIdMissing, template))?;
    check(d.chars(account.value) <= 32, || at_sub(Rule::AccountIdLength, parent, account))?;
    check(is_bakong_account_id(account.value), || at_sub(Rule::AccountIdInvalid, parent, account))?;
    match (parent, sub(1)) {
        (29, Some(info)) => {
            check(chars_within(d, info.value, 1, 32), || {
                at_sub(Rule::AccountInformationLength, parent, info)
            })?;
        }
        (30, None) => return Err(at_tag(Rule::MerchantIdMissing, template)),
        (30, Some(id)) => {
            check(!id.value.is_empty(), || at_sub(Rule::MerchantIdMissing, parent, id))?;
            check(d.chars(id.value) <= 32, || at_sub(Rule::MerchantIdLength, parent, id))?;
        }
        _ => {}
    }
    match (parent, sub(2)) {
        (30, None) => Err(at_tag(Rule::AcquiringBankMissing, template)),
        (_, Some(bank)) => {
            check(!bank.value.is_empty(), || at_sub(Rule::AcquiringBankMissing, parent, bank))?;
            check(d.chars(bank.value) <= 32, || at_sub(Rule::AcquiringBankLength, parent, bank))
        }
        _ => Ok(()),
    }
}

/// `name@bank`: exactly one `@`, both sides non-empty, no spaces or control characters.
pub fn is_bakong_account_id(id: &str) -> bool {
    let clean = id.is_ascii() || !id.chars().any(|c| c.is_whitespace() || c.is_control());
    account_id_shape(id.as_bytes()) && clean
}

/// The bytes of a Bakong account id: one `@` with something either side, and no ASCII space,
/// control character or DEL (the whole rule for an ASCII id).
fn account_id_shape(bytes: &[u8]) -> bool {
    let mut at = None;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'@' {
            if at.is_some() {
                return false;
            }
            at = Some(i);
        } else if b <= b' ' || b == 0x7F {
            return false;
        }
    }
    at.is_some_and(|i| i > 0 && i + 1 < bytes.len())
}

fn strict_mcc(d: &Decoded<'_>) -> Result<(), Violation> {
    let mcc = required(d, 52, Rule::MccMissing)?;
    check(d.chars(mcc.value) == 4, || at_tag(Rule::MccLength, mcc))?;
    check(mcc.value.bytes().all(|b| b.is_ascii_digit()), || at_tag(Rule::MccInvalid, mcc))
}

fn strict_name_city_postal(d: &Decoded<'_>) -> Result<(), Violation> {
    let name = required(d, 59, Rule::NameMissing)?;
    check(!name.value.is_empty(), || at_tag(Rule::NameMissing, name))?;
    check(d.chars(name.value) <= 25, || at_tag(Rule::NameLength, name))?;
    let city = required(d, 60, Rule::CityMissing)?;
    check(!city.value.is_empty(), || at_tag(Rule::CityMissing, city))?;
    check(d.chars(city.value) <= 15, || at_tag(Rule::CityLength, city))?;
    if let Some(postal) = d.field(61) {
        check(chars_within(d, postal.value, 1, 10), || at_tag(Rule::PostalCodeLength, postal))?;
    }
    Ok(())
}

fn strict_additional_data(d: &Decoded<'_>) -> Result<(), Violation> {
    let Some(template) = d.field(62) else { return Ok(()) };
    for sub in d.subs(template) {
        let (rule, min, max) = match sub.id {
            1 => (Rule::BillNumberLength, 1, 25),
            2 => (Rule::MobileNumberLength, 1, 25),
            3 => (Rule::StoreLabelLength, 1, 25),
            7 => (Rule::TerminalLabelLength, 1, 25),
            8 => (Rule::PurposeLength, 1, 25),
            4..=6 => (Rule::AdditionalDataLength, 1, 25),
            9 => (Rule::AdditionalDataLength, 1, 3),
            10 => (Rule::AdditionalDataLength, 1, 20),
            11 => (Rule::AdditionalDataLength, 3, 3),
            _ => continue,
        };
        check(chars_within(d, sub.value, min, max), || at_sub(rule, 62, sub))?;
    }
    Ok(())
}

fn strict_language(d: &Decoded<'_>) -> Result<(), Violation> {
    let Some(template) = d.field(64) else { return Ok(()) };
    let sub = |id: u8| d.sub_field(64, id);
    let preference = sub(0).ok_or_else(|| at_tag(Rule::LanguagePreferenceMissing, template))?;
    check(d.chars(preference.value) == 2, || {
        at_sub(Rule::LanguagePreferenceLength, 64, preference)
    })?;
    let name = sub(1).ok_or_else(|| at_tag(Rule::NameAltMissing, template))?;
    check(chars_within(d, name.value, 1, 25), || at_sub(Rule::NameAltLength, 64, name))?;
    if let Some(city) = sub(2) {
        check(chars_within(d, city.value, 1, 15), || at_sub(Rule::CityAltLength, 64, city))?;
    }
    Ok(())
}

fn strict_khqr_timestamps(d: &Decoded<'_>, now_ms: u64) -> Result<(), Violation> {
    let sub = |id: u8| d.sub_field(99, id);
    let expiry = sub(1).expect("checked: a dynamic KHQR with an amount has 99/01");
    let expires_at_ms =
        parse_epoch_ms(expiry.value).ok_or_else(|| at_sub(Rule::ExpiryLength, 99, expiry))?;
    if let Some(creation) = sub(0) {
        let created_at_ms = parse_epoch_ms(creation.value)
            .ok_or_else(|| at_sub(Rule::CreationInvalid, 99, creation))?;
        check(expires_at_ms >= created_at_ms, || at_sub(Rule::ExpiryBeforeCreation, 99, expiry))?;
    }
    check(expires_at_ms >= now_ms, || at_sub(Rule::Expired, 99, expiry))
}

/// Strict EMVCo MPM rules for EMVCo payloads that are not KHQR (UnionPay and others).
fn strict_emvco(d: &Decoded<'_>) -> Result<(), Violation> {
    strict_structure(d)?;
    check(d.fields().any(|f| (2..=51).contains(&f.id)), || at_payload(Rule::AccountMissing))?;
    strict_mcc(d)?;
    let currency = required(d, 53, Rule::CurrencyMissing)?;
    let is_numeric =
        currency.value.len() == 3 && currency.value.bytes().all(|b| b.is_ascii_digit());
    check(is_numeric, || at_tag(Rule::CurrencyLength, currency))?;
    if let Some(amount) = d.field(54) {
        let decimals_max = currency_exponent(currency.value).unwrap_or(3);
        check(amount_is_valid(amount.value, decimals_max), || at_tag(Rule::AmountInvalid, amount))?;
    }
    strict_emvco_tip(d)?;
    let country = required(d, 58, Rule::CountryMissing)?;
    check(d.chars(country.value) == 2, || at_tag(Rule::CountryLength, country))?;
    strict_name_city_postal(d)?;
    strict_additional_data(d)?;
    strict_language(d)
}

fn strict_emvco_tip(d: &Decoded<'_>) -> Result<(), Violation> {
    let (tip, fixed, percentage) = (d.field(55), d.field(56), d.field(57));
    let ok = match tip.map(|f| f.value) {
        None => fixed.is_none() && percentage.is_none(),
        Some("01") => fixed.is_none() && percentage.is_none(),
        Some("02") => fixed.is_some_and(|f| amount_is_valid(f.value, 3)) && percentage.is_none(),
        Some("03") => percentage.is_some_and(|f| is_percentage(f.value)) && fixed.is_none(),
        Some(_) => false,
    };
    let place = tip.or(fixed).or(percentage);
    check(ok, || {
        place.map_or_else(|| at_payload(Rule::TipInvalid), |f| at_tag(Rule::TipInvalid, f))
    })
}

fn is_percentage(value: &str) -> bool {
    amount_is_valid(value, 2) && value.len() <= 5
}

/// A positive decimal of at most 13 characters: digits, then optionally `.` and 1 to
/// `decimals_max` digits (none when `decimals_max` is 0).
pub fn amount_is_valid(value: &str, decimals_max: usize) -> bool {
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > 13 {
        return false;
    }
    // One walk: where the point is (at most one), whether all else is digits, and whether
    // some digit is not zero.
    let (mut point, mut nonzero) = (None, false);
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'.' if point.is_none() => point = Some(i),
            b'0' => {}
            b'1'..=b'9' => nonzero = true,
            _ => return false,
        }
    }
    let fraction_ok = match point {
        None => true,
        Some(at) => (1..=decimals_max).contains(&(bytes.len() - at - 1)),
    };
    point != Some(0) && fraction_ok && nonzero
}

/// The official SDK's `decodeValidation.js`, transcribed.
mod compat {
    use super::*;

    /// The tags the SDK knows (`KHQRTag.js`); it skips every other tag.
    const KNOWN: [u8; 14] = [0, 1, 15, 29, 52, 53, 54, 58, 59, 60, 62, 64, 99, 63];
    /// The required tags in the SDK's table order, and the rule for each when missing.
    const REQUIRED: [(u8, Rule); 8] = [
        (0, Rule::PfiMissing),
        (29, Rule::AccountMissing),
        (52, Rule::MccMissing),
        (53, Rule::CurrencyMissing),
        (58, Rule::CountryMissing),
        (59, Rule::NameMissing),
        (60, Rule::CityMissing),
        (63, Rule::SdkCrcTagMissing),
    ];

    pub(super) fn verify(d: &Decoded<'_>, now_ms: u64) -> Result<(), Violation> {
        // The SDK stops at the first tag equal to the previous one (after mapping 30 to 29),
        // and keeps only the tags it knows.
        let mut tags: Vec<(u8, Field<'_>)> = Vec::with_capacity(16);
        let mut last = None;
        for field in d.fields() {
            if last == Some(field.id) {
                break;
            }
            let tag = if field.id == 30 { 29 } else { field.id };
            if KNOWN.contains(&tag) {
                tags.push((tag, field));
            }
            last = Some(tag);
        }
        let find = |id: u8| tags.iter().find(|(t, _)| *t == id).map(|(_, f)| *f);
        if let Some(poi) = tags.iter().find(|(t, f)| *t == 1 && f.value == "12").map(|(_, f)| *f) {
            check(find(54).is_some(), || at_tag(Rule::DynamicWithoutAmount, poi))?;
            check(find(99).is_some(), || at_tag(Rule::ExpiryMissing, poi))?;
        }
        if let Some(amount) = find(54) {
            check(find(99).is_some(), || at_tag(Rule::ExpiryMissing, amount))?;
        }
        for (id, rule) in REQUIRED {
            if find(id).is_none() {
                return Err(at_payload(rule));
            }
        }
        let mut poi = None;
        for &(tag, field) in &tags {
            if tag == 1 {
                poi = Some(field.value);
            }
            verify_tag(d, tag, field, poi, now_ms)?;
        }
        Ok(())
    }

    /// JavaScript `String.length` counts UTF-16 code units.
    fn js_len(s: &str) -> usize {
        s.encode_utf16().count()
    }

    fn verify_tag(
        d: &Decoded<'_>,
        tag: u8,
        f: Field<'_>,
        poi: Option<&str>,
        now_ms: u64,
    ) -> Result<(), Violation> {
        let v = f.value;
        let fail = |rule| Err(at_tag(rule, f));
        match tag {
            0 if v.is_empty() => fail(Rule::PfiMissing),
            0 if js_len(v) > 2 => fail(Rule::PfiLength),
            1 if js_len(v) > 2 => fail(Rule::PoiLength),
            1 if v != "11" && v != "12" => fail(Rule::PoiValue),
            29 => account(d, f),
            52 if v.is_empty() => fail(Rule::MccMissing),
            52 if js_len(v) > 4 => fail(Rule::MccLength),
            52 if !v.bytes().all(|b| b.is_ascii_digit()) => fail(Rule::MccInvalid),
            53 if v.is_empty() => fail(Rule::CurrencyMissing),
            53 if js_len(v) > 3 => fail(Rule::CurrencyLength),
            53 if v != "116" && v != "840" => fail(Rule::CurrencyUnsupported),
            54 if v.is_empty() || js_len(v) > 13 || v.contains('-') => fail(Rule::AmountInvalid),
            58 if v.is_empty() => fail(Rule::CountryMissing),
            58 if js_len(v) > 3 => fail(Rule::CountryLength),
            59 if v.is_empty() => fail(Rule::NameMissing),
            59 if js_len(v) > 25 => fail(Rule::NameLength),
            60 if v.is_empty() => fail(Rule::CityMissing),
            60 if js_len(v) > 15 => fail(Rule::CityLength),
            62 => additional_data(d, f),
            64 => language(d, f),
            99 if poi == Some("12") => timestamps(d, f, now_ms),
            63 if v.is_empty() => fail(Rule::SdkCrcTagMissing),
            63 if js_len(v) > 4 => fail(Rule::CrcLength),
            _ => Ok(()),
        }
    }

    /// The values of the sub-tags the SDK knows, last occurrence winning as in a JS object;
    /// `None` when none is known (the SDK then keeps the raw string and reads `undefined`).
    fn known_subs<'a, const N: usize>(
        d: &Decoded<'a>,
        f: Field<'a>,
        ids: [u8; N],
    ) -> Option<[Option<Field<'a>>; N]> {
        let mut values = [None; N];
        let mut any = false;
        for sub in d.subs(f) {
            if let Some(i) = ids.iter().position(|&id| id == sub.id) {
                values[i] = Some(sub);
                any = true;
            }
        }
        any.then_some(values)
    }

    fn account(d: &Decoded<'_>, f: Field<'_>) -> Result<(), Violation> {
        let parent = f.id;
        let Some([id, info, bank]) = known_subs(d, f, [0, 1, 2]) else {
            return Err(at_tag(Rule::AccountIdMissing, f));
        };
        let id =
            id.filter(|s| !s.value.is_empty()).ok_or_else(|| at_tag(Rule::AccountIdMissing, f))?;
        check(js_len(id.value) <= 32, || at_sub(Rule::AccountIdLength, parent, id))?;
        check(id.value.contains('@'), || at_sub(Rule::AccountIdInvalid, parent, id))?;
        if let Some(info) = info {
            check(js_len(info.value) <= 32, || {
                at_sub(Rule::AccountInformationLength, parent, info)
            })?;
        }
        if let Some(bank) = bank {
            check(!bank.value.is_empty(), || at_sub(Rule::AcquiringBankMissing, parent, bank))?;
            check(js_len(bank.value) <= 32, || at_sub(Rule::AcquiringBankLength, parent, bank))?;
        }
        Ok(())
    }

    fn additional_data(d: &Decoded<'_>, f: Field<'_>) -> Result<(), Violation> {
        let Some(values) = known_subs(d, f, [1, 2, 3, 7, 8]) else { return Ok(()) };
        let rules = [
            Rule::BillNumberLength,
            Rule::MobileNumberLength,
            Rule::StoreLabelLength,
            Rule::TerminalLabelLength,
            Rule::PurposeLength,
        ];
        for (sub, rule) in values.into_iter().zip(rules) {
            if let Some(sub) = sub {
                check(!sub.value.is_empty() && js_len(sub.value) <= 25, || at_sub(rule, 62, sub))?;
            }
        }
        Ok(())
    }

    fn language(d: &Decoded<'_>, f: Field<'_>) -> Result<(), Violation> {
        let Some([preference, name, city]) = known_subs(d, f, [0, 1, 2]) else { return Ok(()) };
        let has_preference = preference.is_some_and(|p| !p.value.is_empty());
        if has_preference && name.is_none_or(|n| n.value.is_empty()) {
            return Err(at_tag(Rule::NameAltMissing, f));
        }
        if let Some(name) = name {
            let preference = preference.ok_or_else(|| at_tag(Rule::SdkTypeError, f))?;
            let ok = !preference.value.is_empty() && js_len(preference.value) <= 2;
            check(ok, || at_sub(Rule::LanguagePreferenceLength, 64, preference))?;
            let ok = !name.value.is_empty() && js_len(name.value) <= 25;
            check(ok, || at_sub(Rule::NameAltLength, 64, name))?;
        }
        if let Some(city) = city {
            let ok = !city.value.is_empty() && js_len(city.value) <= 15;
            check(ok, || at_sub(Rule::CityAltLength, 64, city))?;
        }
        Ok(())
    }

    fn timestamps(d: &Decoded<'_>, f: Field<'_>, now_ms: u64) -> Result<(), Violation> {
        let Some([creation, expiry]) = known_subs(d, f, [0, 1]) else {
            // The SDK reads `undefined` from the raw string: Number(undefined) is NaN.
            return Err(at_tag(Rule::ExpiryMissing, f));
        };
        let created = js_number(creation.map(|s| s.value));
        let expires = js_number(expiry.map(|s| s.value));
        let place = expiry.map_or(Place::Tag(99), |e| Place::Sub(99, e.id));
        let offset = expiry.map_or(f.offset, |e| e.offset);
        let fail = |rule| Err(Violation { rule, place, offset });
        let Some(expires) = expires.filter(|e| !e.is_zero()) else {
            return fail(Rule::ExpiryMissing);
        };
        if js_number_string_len(expires) != 13 {
            return fail(Rule::ExpiryLength);
        }
        if created.is_some_and(|c| expires < c) {
            return fail(Rule::ExpiryBeforeCreation);
        }
        if expires < Decimal::from(now_ms) {
            return fail(Rule::Expired);
        }
        Ok(())
    }

    /// JavaScript `Number(x)` for a sub-tag value (`null` when absent): `None` stands for NaN.
    /// Decimal literals (with sign, fraction or exponent) and surrounding white space are read
    /// exactly; hexadecimal, octal, binary and `Infinity` literals are taken as NaN.
    pub(in crate::payments::qr) fn js_number(value: Option<&str>) -> Option<Decimal> {
        let Some(text) = value else { return Some(Decimal::ZERO) };
        let text = text.trim();
        if text.is_empty() {
            return Some(Decimal::ZERO);
        }
        let plain = text.trim_start_matches(['+', '-']);
        let body_ok = plain.len() + 1 >= text.len()
            && !plain.is_empty()
            && plain
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
            && plain.bytes().next().is_some_and(|b| b.is_ascii_digit() || b == b'.');
        if !body_ok {
            return None;
        }
        let text = text.strip_prefix('+').unwrap_or(text);
        if text.contains(['e', 'E']) {
            Decimal::from_scientific(text).ok()
        } else {
            Decimal::from_str(text).ok()
        }
    }

    /// `String(n).length` for a finite number as JavaScript prints it (exact for numbers with
    /// at most 15 significant digits, which covers every 13-digit timestamp).
    pub(in crate::payments::qr) fn js_number_string_len(n: Decimal) -> usize {
        n.normalize().to_string().len()
    }
}

#[cfg(test)]
pub(super) use compat::{js_number, js_number_string_len};
