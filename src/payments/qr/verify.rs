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
use super::decode::{self, Decoded, parse_epoch_ms};
use super::rules::{ErrorCode, Place, Rule, Violation};
use super::tlv::{self, DecodeError, DecodeErrorKind, Field};

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
    let first = d.fields()[0];
    check(first.id == 0, || at_tag(Rule::PfiNotFirst, first))?;
    check(tlv::char_count(first.value) == 2, || at_tag(Rule::PfiLength, first))?;
    check(first.value == "01", || at_tag(Rule::PfiValue, first))?;
    if let Some((field, template)) = d.duplicate() {
        let place = match template {
            None => Place::Tag(field.id),
            Some(parent) => Place::Sub(parent, field.id),
        };
        return Err(Violation { rule: Rule::DuplicateId, place, offset: field.offset });
    }
    if let Some(poi) = d.field(1) {
        check(tlv::char_count(poi.value) == 2, || at_tag(Rule::PoiLength, poi))?;
        check(matches!(poi.value, "11" | "12"), || at_tag(Rule::PoiValue, poi))?;
    }
    Ok(())
}

/// Strict KHQR rules, in precedence order (see docs/qr-verification.md).
fn strict_khqr(d: &Decoded<'_>, now_ms: u64) -> Result<(), Violation> {
    strict_structure(d)?;
    // Ascending order of root ids; the CRC object is last by construction.
    let fields = d.fields();
    for pair in fields[..fields.len() - 1].windows(2) {
        check(pair[0].id < pair[1].id, || at_tag(Rule::TagOrder, pair[1]))?;
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
    check(tlv::char_count(currency.value) == 3, || at_tag(Rule::CurrencyLength, currency))?;
    check(matches!(currency.value, "116" | "840"), || at_tag(Rule::CurrencyUnsupported, currency))?;
    if let Some(upi) = d.field(15) {
        check(currency.value != "840", || at_tag(Rule::UpiWithUsd, upi))?;
    }
    if let Some(amount) = amount {
        let decimals_max = if currency.value == "116" { 0 } else { 2 };
        check(amount_is_valid(amount.value, decimals_max), || at_tag(Rule::AmountInvalid, amount))?;
    }
    let country = required(d, 58, Rule::CountryMissing)?;
    check(tlv::char_count(country.value) == 2, || at_tag(Rule::CountryLength, country))?;
    check(country.value == "KH", || at_tag(Rule::CountryNotKh, country))?;
    strict_name_city_postal(d)?;
    strict_additional_data(d)?;
    strict_language(d)?;
    if dynamic {
        strict_khqr_timestamps(d, now_ms)?;
    }
    Ok(())
}

fn required<'a>(d: &Decoded<'a>, id: u8, rule: Rule) -> Result<Field<'a>, Violation> {
    d.field(id).ok_or_else(|| at_payload(rule))
}

/// The length of `value` in characters is within `min..=max`.
fn chars_within(value: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&tlv::char_count(value))
}

fn strict_khqr_account(d: &Decoded<'_>) -> Result<(), Violation> {
    let template = d.bakong_account_template().expect("a KHQR has a Bakong account template");
    if let Some(second) =
        d.fields().iter().find(|f| (f.id == 29 || f.id == 30) && f.id != template.id)
    {
        return Err(at_tag(Rule::AccountBothTemplates, *second));
    }
    let parent = template.id;
    let sub = |id: u8| d.subs(template).find(|f| f.id == id);
    let account = sub(0).filter(|f| !f.value.is_empty());
    let account = account.ok_or_else(|| at_tag(Rule::AccountIdMissing, template))?;
    check(tlv::char_count(account.value) <= 32, || at_sub(Rule::AccountIdLength, parent, account))?;
    check(is_bakong_account_id(account.value), || at_sub(Rule::AccountIdInvalid, parent, account))?;
    match (parent, sub(1)) {
        (29, Some(info)) => {
            check(chars_within(info.value, 1, 32), || {
                at_sub(Rule::AccountInformationLength, parent, info)
            })?;
        }
        (30, None) => return Err(at_tag(Rule::MerchantIdMissing, template)),
        (30, Some(id)) => {
            check(!id.value.is_empty(), || at_sub(Rule::MerchantIdMissing, parent, id))?;
            check(tlv::char_count(id.value) <= 32, || at_sub(Rule::MerchantIdLength, parent, id))?;
        }
        _ => {}
    }
    match (parent, sub(2)) {
        (30, None) => Err(at_tag(Rule::AcquiringBankMissing, template)),
        (_, Some(bank)) => {
            check(!bank.value.is_empty(), || at_sub(Rule::AcquiringBankMissing, parent, bank))?;
            check(tlv::char_count(bank.value) <= 32, || {
                at_sub(Rule::AcquiringBankLength, parent, bank)
            })
        }
        _ => Ok(()),
    }
}

/// `name@bank`: exactly one `@`, both sides non-empty, no spaces or control characters.
pub fn is_bakong_account_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    let mut at_count = 0;
    let mut at_index = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'@' {
            at_count += 1;
            at_index = i;
        } else if b <= b' ' || b == 0x7F {
            return false;
        }
    }
    let clean = id.is_ascii() || !id.chars().any(|c| c.is_whitespace() || c.is_control());
    at_count == 1 && at_index > 0 && at_index + 1 < bytes.len() && clean
}

fn strict_mcc(d: &Decoded<'_>) -> Result<(), Violation> {
    let mcc = required(d, 52, Rule::MccMissing)?;
    check(tlv::char_count(mcc.value) == 4, || at_tag(Rule::MccLength, mcc))?;
    check(mcc.value.bytes().all(|b| b.is_ascii_digit()), || at_tag(Rule::MccInvalid, mcc))
}

fn strict_name_city_postal(d: &Decoded<'_>) -> Result<(), Violation> {
    let name = required(d, 59, Rule::NameMissing)?;
    check(!name.value.is_empty(), || at_tag(Rule::NameMissing, name))?;
    check(tlv::char_count(name.value) <= 25, || at_tag(Rule::NameLength, name))?;
    let city = required(d, 60, Rule::CityMissing)?;
    check(!city.value.is_empty(), || at_tag(Rule::CityMissing, city))?;
    check(tlv::char_count(city.value) <= 15, || at_tag(Rule::CityLength, city))?;
    if let Some(postal) = d.field(61) {
        check(chars_within(postal.value, 1, 10), || at_tag(Rule::PostalCodeLength, postal))?;
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
        check(chars_within(sub.value, min, max), || at_sub(rule, 62, sub))?;
    }
    Ok(())
}

fn strict_language(d: &Decoded<'_>) -> Result<(), Violation> {
    let Some(template) = d.field(64) else { return Ok(()) };
    let sub = |id: u8| d.subs(template).find(|f| f.id == id);
    let preference = sub(0).ok_or_else(|| at_tag(Rule::LanguagePreferenceMissing, template))?;
    check(tlv::char_count(preference.value) == 2, || {
        at_sub(Rule::LanguagePreferenceLength, 64, preference)
    })?;
    let name = sub(1).ok_or_else(|| at_tag(Rule::NameAltMissing, template))?;
    check(chars_within(name.value, 1, 25), || at_sub(Rule::NameAltLength, 64, name))?;
    if let Some(city) = sub(2) {
        check(chars_within(city.value, 1, 15), || at_sub(Rule::CityAltLength, 64, city))?;
    }
    Ok(())
}

fn strict_khqr_timestamps(d: &Decoded<'_>, now_ms: u64) -> Result<(), Violation> {
    let template = d.field(99).expect("checked: a dynamic KHQR with an amount has 99/01");
    let sub = |id: u8| d.subs(template).find(|f| f.id == id);
    let expiry = sub(1).expect("checked: 99/01 present");
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
    check(d.fields().iter().any(|f| (2..=51).contains(&f.id)), || {
        at_payload(Rule::AccountMissing)
    })?;
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
    check(tlv::char_count(country.value) == 2, || at_tag(Rule::CountryLength, country))?;
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
    if value.is_empty() || value.len() > 13 {
        return false;
    }
    let (whole, fraction) = match value.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (value, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let fraction_ok = match fraction {
        None => true,
        Some(f) => decimals_max > 0 && digits(f) && f.len() <= decimals_max,
    };
    digits(whole) && fraction_ok && value.bytes().any(|b| (b'1'..=b'9').contains(&b))
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
        for &field in d.fields() {
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
