//! Generating merchant codes: KHQR (individual, tag 29; merchant, tag 30) byte-identical to the
//! official SDK 1.0.20, and UnionPay MPM codes (tag 15, CNY, CN).
//!
//! A KHQR is checked in the SDK's own order and fails with the SDK's error code, so a spec that
//! the SDK rejects is rejected here with the same code. Where the SDK misbehaves (it returns a
//! TypeError object as a "successful" QR, formats `1e21` as an amount, accepts non-numeric
//! amounts) we reject instead; `docs/qr-verification.md` lists each case.
//!
//! The creation time is an input (`created_at_ms`): this module reads no clock.

use std::str::FromStr;

use rust_decimal::Decimal;

use super::rules::{Rule, Violation};
use super::tlv::{self, PAYLOAD_CHARS_MAX, Writer};

/// Which code to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CodeKind {
    /// KHQR for an individual: tag 29 with 00 account id, optional 01 account information and
    /// 02 acquiring bank.
    #[default]
    Individual,
    /// KHQR for a merchant: tag 30 with 00 account id, 01 merchant id and 02 acquiring bank.
    Merchant,
    /// UnionPay MPM: tag 15, currency 156, country CN, no tag 99.
    Unionpay,
}

/// An amount as the caller gave it. The SDK treats a JavaScript number and a string differently
/// (`1.50` as a number prints as `1.5`; as a string it stays `1.50`), so both are kept apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AmountInput {
    /// A number, as JavaScript holds it: only its value matters.
    Number(Decimal),
    /// A string, kept as written.
    Text(String),
}

/// What to encode. Optional text that is empty counts as absent, as in the SDK.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EncodeSpec {
    /// The kind of code.
    pub kind: CodeKind,
    /// Bakong account id `name@bank` (KHQR).
    pub account_id: Option<String>,
    /// Merchant name (59), at most 25 characters.
    pub merchant_name: Option<String>,
    /// Merchant city (60), at most 15; KHQR defaults to `Phnom Penh`.
    pub merchant_city: Option<String>,
    /// Merchant id (30/01), merchant KHQR only.
    pub merchant_id: Option<String>,
    /// Acquiring bank (29/02 or 30/02).
    pub acquiring_bank: Option<String>,
    /// Account information (29/01), individual KHQR only.
    pub account_information: Option<String>,
    /// ISO 4217 numeric currency: KHQR defaults to 116 (KHR), UnionPay to 156 (CNY).
    pub currency_numeric: Option<u16>,
    /// Amount; absent or zero makes a static code.
    pub amount: Option<AmountInput>,
    /// Merchant category code (52); defaults to `5999`.
    pub mcc: Option<String>,
    /// 62/01.
    pub bill_number: Option<String>,
    /// 62/02.
    pub mobile_number: Option<String>,
    /// 62/03.
    pub store_label: Option<String>,
    /// 62/07.
    pub terminal_label: Option<String>,
    /// 62/08.
    pub purpose: Option<String>,
    /// 64/00, e.g. `km` or `ZH`.
    pub language_preference: Option<String>,
    /// 64/01.
    pub merchant_name_alt: Option<String>,
    /// 64/02.
    pub merchant_city_alt: Option<String>,
    /// UnionPay merchant account (15).
    pub upi_account: Option<String>,
    /// Creation time of a dynamic KHQR, epoch ms (the SDK's `Date.now()`).
    pub created_at_ms: Option<u64>,
    /// Expiration time of a dynamic KHQR, epoch ms.
    pub expires_at_ms: Option<u64>,
}

/// Generates the payload for `spec`.
///
/// # Errors
/// The first broken rule, in the SDK's order for KHQR; see [`Rule::sdk_code`] for its code.
pub fn encode(spec: &EncodeSpec) -> Result<String, Violation> {
    check_text(spec)?;
    let payload = match spec.kind {
        CodeKind::Individual | CodeKind::Merchant => encode_khqr(spec)?,
        CodeKind::Unionpay => encode_unionpay(spec)?,
    };
    assert!(tlv::char_count(&payload) <= PAYLOAD_CHARS_MAX, "bounded by the field limits");
    debug_assert!(super::decode::decode(&payload).is_ok(), "encode output must decode: {payload}");
    Ok(payload)
}

/// Non-empty text of an optional key.
fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|s| !s.is_empty())
}

fn fail<T>(rule: Rule, key: &'static str) -> Result<T, Violation> {
    Err(Violation::key(rule, key))
}

fn check(ok: bool, rule: Rule, key: &'static str) -> Result<(), Violation> {
    if ok { Ok(()) } else { fail(rule, key) }
}

fn chars(s: &str) -> usize {
    tlv::char_count(s)
}

/// Every text key, by name.
fn text_keys(spec: &EncodeSpec) -> [(&'static str, &Option<String>); 16] {
    [
        ("account_id", &spec.account_id),
        ("merchant_name", &spec.merchant_name),
        ("merchant_city", &spec.merchant_city),
        ("merchant_id", &spec.merchant_id),
        ("acquiring_bank", &spec.acquiring_bank),
        ("account_information", &spec.account_information),
        ("mcc", &spec.mcc),
        ("bill_number", &spec.bill_number),
        ("mobile_number", &spec.mobile_number),
        ("store_label", &spec.store_label),
        ("terminal_label", &spec.terminal_label),
        ("purpose", &spec.purpose),
        ("language_preference", &spec.language_preference),
        ("merchant_name_alt", &spec.merchant_name_alt),
        ("merchant_city_alt", &spec.merchant_city_alt),
        ("upi_account", &spec.upi_account),
    ]
}

/// Whether a character is a control character or an invisible one that changes how text
/// around it is shown (bidirectional marks, embeddings, overrides and isolates; zero-width
/// characters; the byte-order mark).
fn is_control_or_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
        )
}

/// Keys a kind does not have are rejected rather than silently dropped; characters outside the
/// Basic Multilingual Plane are rejected because the SDK counts them as two; control and
/// invisible formatting characters are rejected because a payer would read the text otherwise.
fn check_text(spec: &EncodeSpec) -> Result<(), Violation> {
    for (key, value) in text_keys(spec) {
        let Some(text) = value.as_deref() else { continue };
        if text.chars().any(is_control_or_invisible) {
            return fail(Rule::ControlCharacter, key);
        }
        if text.chars().any(|c| u32::from(c) > 0xFFFF) {
            return fail(Rule::CharacterOutsideBmp, key);
        }
    }
    let not_for: &[(&'static str, bool)] = match spec.kind {
        CodeKind::Individual => &[("merchant_id", spec.merchant_id.is_some())],
        CodeKind::Merchant => &[("account_information", spec.account_information.is_some())],
        CodeKind::Unionpay => &[
            ("account_id", spec.account_id.is_some()),
            ("merchant_id", spec.merchant_id.is_some()),
            ("acquiring_bank", spec.acquiring_bank.is_some()),
            ("account_information", spec.account_information.is_some()),
            ("created_at_ms", spec.created_at_ms.is_some()),
            ("expires_at_ms", spec.expires_at_ms.is_some()),
        ],
    };
    match not_for.iter().find(|(_, given)| *given) {
        Some((key, _)) => fail(Rule::FieldNotApplicable, key),
        None => Ok(()),
    }
}

const KHR: u16 = 116;
const USD: u16 = 840;
const CNY: u16 = 156;

fn encode_khqr(spec: &EncodeSpec) -> Result<String, Violation> {
    // The SDK decides static or dynamic first (`amount == 0` in JavaScript) and reports a bad
    // amount only at its own step, after the account, MCC and currency checks.
    let amount = spec.amount.as_ref().map(AmountText::parse);
    let dynamic = match &amount {
        None => false,
        Some(Ok(amount)) => !amount.is_zero,
        Some(Err(())) => true,
    };
    let upi = present(&spec.upi_account);
    if let Some(upi) = upi {
        check(chars(upi) <= 99, Rule::UpiLength, "upi_account")?;
    }
    let account = khqr_account_template(spec)?;
    let mcc = present(&spec.mcc).unwrap_or("5999");
    check(chars(mcc) <= 4, Rule::MccLength, "mcc")?;
    check(mcc.bytes().all(|b| b.is_ascii_digit()), Rule::MccInvalid, "mcc")?;
    let currency = spec.currency_numeric.unwrap_or(KHR);
    check(currency == KHR || currency == USD, Rule::CurrencyUnsupported, "currency")?;
    check(!(upi.is_some() && currency == USD), Rule::UpiWithUsd, "upi_account")?;
    let amount_text = match amount.filter(|_| dynamic) {
        None => None,
        Some(amount) => {
            let text = amount.ok().and_then(|a| a.khqr_text(currency));
            Some(text.ok_or_else(|| Violation::key(Rule::AmountInvalid, "amount"))?)
        }
    };
    let name = merchant_name(spec)?;
    let city = present(&spec.merchant_city).unwrap_or("Phnom Penh");
    check(chars(city) <= 15, Rule::CityLength, "merchant_city")?;
    let additional = additional_data_template(spec)?;
    let language = khqr_language_template(spec)?;
    let timestamps = if dynamic { khqr_timestamps(spec)? } else { Writer::new() };

    let mut w = Writer::new();
    let too_long = |e: tlv::ValueTooLong| Violation::key(Rule::TemplateTooLong, template_key(e.id));
    w.field(0, "01").map_err(too_long)?;
    w.field(1, if dynamic { "12" } else { "11" }).map_err(too_long)?;
    if let Some(upi) = upi {
        w.field(15, upi).map_err(too_long)?;
    }
    let account_tag = if spec.kind == CodeKind::Merchant { 30 } else { 29 };
    w.field(account_tag, account.as_str()).map_err(too_long)?;
    w.field(52, mcc).map_err(too_long)?;
    w.field(53, if currency == USD { "840" } else { "116" }).map_err(too_long)?;
    if let Some(text) = &amount_text {
        w.field(54, text).map_err(too_long)?;
    }
    w.field(58, "KH").map_err(too_long)?;
    w.field(59, name).map_err(too_long)?;
    w.field(60, city).map_err(too_long)?;
    for (id, template) in [(62, &additional), (64, &language), (99, &timestamps)] {
        if !template.is_empty() {
            w.field(id, template.as_str()).map_err(too_long)?;
        }
    }
    Ok(w.finish())
}

fn template_key(id: u8) -> &'static str {
    match id {
        29 | 30 => "account_id",
        62 => "bill_number",
        64 => "merchant_name_alt",
        _ => "spec",
    }
}

fn merchant_name(spec: &EncodeSpec) -> Result<&str, Violation> {
    let name = spec.merchant_name.as_deref().unwrap_or("");
    check(!name.is_empty(), Rule::NameMissing, "merchant_name")?;
    check(chars(name) <= 25, Rule::NameLength, "merchant_name")?;
    Ok(name)
}

/// Tag 29 or 30's content, checked in the SDK's order.
fn khqr_account_template(spec: &EncodeSpec) -> Result<Writer, Violation> {
    let id = spec.account_id.as_deref().unwrap_or("");
    check(!id.is_empty(), Rule::AccountIdMissing, "account_id")?;
    check(chars(id) <= 32, Rule::AccountIdLength, "account_id")?;
    check(id.contains('@'), Rule::AccountIdInvalid, "account_id")?;
    let mut w = Writer::new();
    w.field(0, id).expect("at most 32 characters");
    if spec.kind == CodeKind::Merchant {
        let merchant_id = spec.merchant_id.as_deref().unwrap_or("");
        check(!merchant_id.is_empty(), Rule::MerchantIdMissing, "merchant_id")?;
        check(chars(merchant_id) <= 32, Rule::MerchantIdLength, "merchant_id")?;
        let bank = spec.acquiring_bank.as_deref().unwrap_or("");
        check(!bank.is_empty(), Rule::AcquiringBankMissing, "acquiring_bank")?;
        check(chars(bank) <= 32, Rule::AcquiringBankLength, "acquiring_bank")?;
        w.field(1, merchant_id).expect("at most 32 characters");
        w.field(2, bank).expect("at most 32 characters");
    } else {
        if let Some(info) = present(&spec.account_information) {
            check(chars(info) <= 32, Rule::AccountInformationLength, "account_information")?;
            w.field(1, info).expect("at most 32 characters");
        }
        if let Some(bank) = present(&spec.acquiring_bank) {
            check(chars(bank) <= 32, Rule::AcquiringBankLength, "acquiring_bank")?;
            w.field(2, bank).expect("at most 32 characters");
        }
    }
    Ok(w)
}

/// Tag 62's content (empty when no key is given), sub-fields in the SDK's order 01 02 03 07 08.
fn additional_data_template(spec: &EncodeSpec) -> Result<Writer, Violation> {
    let subs = [
        (1, "bill_number", &spec.bill_number, Rule::BillNumberLength),
        (2, "mobile_number", &spec.mobile_number, Rule::MobileNumberLength),
        (3, "store_label", &spec.store_label, Rule::StoreLabelLength),
        (7, "terminal_label", &spec.terminal_label, Rule::TerminalLabelLength),
        (8, "purpose", &spec.purpose, Rule::PurposeLength),
    ];
    let mut w = Writer::new();
    for (id, key, value, rule) in subs {
        if let Some(value) = present(value) {
            check(chars(value) <= 25, rule, key)?;
            w.field(id, value).expect("at most 25 characters");
        }
    }
    Ok(w)
}

/// Tag 64's content (empty when no key is given), with the SDK's checks.
fn khqr_language_template(spec: &EncodeSpec) -> Result<Writer, Violation> {
    let preference = present(&spec.language_preference);
    let name = present(&spec.merchant_name_alt);
    let city = present(&spec.merchant_city_alt);
    let mut w = Writer::new();
    check(preference.is_none() || name.is_some(), Rule::NameAltMissing, "merchant_name_alt")?;
    if let Some(name) = name {
        // The SDK throws a TypeError here and returns it as a "successful" QR; we refuse.
        let preference = preference.ok_or_else(|| {
            Violation::key(Rule::LanguagePreferenceMissing, "language_preference")
        })?;
        check(chars(preference) <= 2, Rule::LanguagePreferenceLength, "language_preference")?;
        check(chars(name) <= 25, Rule::NameAltLength, "merchant_name_alt")?;
        w.field(0, preference).expect("at most 2 characters");
        w.field(1, name).expect("at most 25 characters");
    }
    if let Some(city) = city {
        check(chars(city) <= 15, Rule::CityAltLength, "merchant_city_alt")?;
        w.field(2, city).expect("at most 15 characters");
    }
    Ok(w)
}

/// Tag 99's content for a dynamic KHQR: 00 creation and 01 expiration, 13-digit epoch ms.
fn khqr_timestamps(spec: &EncodeSpec) -> Result<Writer, Violation> {
    let expires_at_ms = spec.expires_at_ms.filter(|&t| t != 0);
    let expires_at_ms =
        expires_at_ms.ok_or_else(|| Violation::key(Rule::ExpiryMissing, "expires_at_ms"))?;
    let created_at_ms =
        spec.created_at_ms.ok_or_else(|| Violation::key(Rule::CreationMissing, "created_at_ms"))?;
    let is_13_digits = |t: u64| (1_000_000_000_000..10_000_000_000_000).contains(&t);
    check(is_13_digits(created_at_ms), Rule::CreationInvalid, "created_at_ms")?;
    check(is_13_digits(expires_at_ms), Rule::ExpiryLength, "expires_at_ms")?;
    check(expires_at_ms >= created_at_ms, Rule::ExpiryBeforeCreation, "expires_at_ms")?;
    let mut w = Writer::new();
    w.field(0, &created_at_ms.to_string()).expect("13 characters");
    w.field(1, &expires_at_ms.to_string()).expect("13 characters");
    Ok(w)
}

fn encode_unionpay(spec: &EncodeSpec) -> Result<String, Violation> {
    let upi = present(&spec.upi_account)
        .ok_or_else(|| Violation::key(Rule::UpiMissing, "upi_account"))?;
    check(chars(upi) <= 99, Rule::UpiLength, "upi_account")?;
    let mcc = present(&spec.mcc).unwrap_or("5999");
    check(chars(mcc) == 4, Rule::MccLength, "mcc")?;
    check(mcc.bytes().all(|b| b.is_ascii_digit()), Rule::MccInvalid, "mcc")?;
    check(spec.currency_numeric.unwrap_or(CNY) == CNY, Rule::CurrencyUnsupported, "currency")?;
    let amount = match &spec.amount {
        None => None,
        Some(input) => {
            let amount = AmountText::parse(input)
                .map_err(|()| Violation::key(Rule::AmountInvalid, "amount"))?;
            if amount.is_zero {
                None
            } else {
                Some(
                    amount
                        .fixed_text(2)
                        .ok_or_else(|| Violation::key(Rule::AmountInvalid, "amount"))?,
                )
            }
        }
    };
    let name = merchant_name(spec)?;
    let city = present(&spec.merchant_city)
        .ok_or_else(|| Violation::key(Rule::CityMissing, "merchant_city"))?;
    check(chars(city) <= 15, Rule::CityLength, "merchant_city")?;
    let additional = additional_data_template(spec)?;
    let preference = present(&spec.language_preference);
    let name_alt = present(&spec.merchant_name_alt);
    let city_alt = present(&spec.merchant_city_alt);
    let mut language = Writer::new();
    if preference.is_some() || name_alt.is_some() || city_alt.is_some() {
        let preference = preference.ok_or_else(|| {
            Violation::key(Rule::LanguagePreferenceMissing, "language_preference")
        })?;
        check(chars(preference) == 2, Rule::LanguagePreferenceLength, "language_preference")?;
        let name_alt =
            name_alt.ok_or_else(|| Violation::key(Rule::NameAltMissing, "merchant_name_alt"))?;
        check(chars(name_alt) <= 25, Rule::NameAltLength, "merchant_name_alt")?;
        language.field(0, preference).expect("2 characters");
        language.field(1, name_alt).expect("at most 25 characters");
        if let Some(city_alt) = city_alt {
            check(chars(city_alt) <= 15, Rule::CityAltLength, "merchant_city_alt")?;
            language.field(2, city_alt).expect("at most 15 characters");
        }
    }
    let mut w = Writer::new();
    let too_long = |e: tlv::ValueTooLong| Violation::key(Rule::TemplateTooLong, template_key(e.id));
    w.field(0, "01").map_err(too_long)?;
    w.field(1, if amount.is_some() { "12" } else { "11" }).map_err(too_long)?;
    w.field(15, upi).map_err(too_long)?;
    w.field(52, mcc).map_err(too_long)?;
    w.field(53, "156").map_err(too_long)?;
    if let Some(amount) = &amount {
        w.field(54, amount).map_err(too_long)?;
    }
    w.field(58, "CN").map_err(too_long)?;
    w.field(59, name).map_err(too_long)?;
    w.field(60, city).map_err(too_long)?;
    for (id, template) in [(62, &additional), (64, &language)] {
        if !template.is_empty() {
            w.field(id, template.as_str()).map_err(too_long)?;
        }
    }
    Ok(w.finish())
}

/// An amount read the way the SDK reads it: the digits before and after the point as written.
#[derive(Clone, Debug, PartialEq, Eq)]
struct AmountText {
    /// Digits before the point, leading zeros removed.
    whole: String,
    /// Digits after the point, as written; `None` when there was no point.
    fraction: Option<String>,
    /// The digits as written before the point (the SDK keeps a pointless string as is).
    whole_as_written: String,
    /// Whether the value is zero (the SDK then makes a static code).
    is_zero: bool,
}

impl AmountText {
    /// Reads `input`: a number prints as JavaScript prints it (`1.50` → `1.5`, `1.00` → `1`); a
    /// string must be digits with at most one point. Signs, exponents and anything else fail.
    fn parse(input: &AmountInput) -> Result<Self, ()> {
        let text = match input {
            AmountInput::Number(n) => n.normalize().to_string(),
            AmountInput::Text(s) => s.clone(),
        };
        let (whole, fraction) = match text.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (text.as_str(), None),
        };
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let digit_count = whole.len() + fraction.map_or(0, str::len);
        if !digits(whole) || !fraction.is_none_or(digits) || digit_count == 0 || text.len() > 32 {
            return Err(());
        }
        let is_zero = text.bytes().all(|b| b == b'0' || b == b'.');
        let trimmed = whole.trim_start_matches('0');
        Ok(Self {
            whole: if trimmed.is_empty() { "0".to_owned() } else { trimmed.to_owned() },
            fraction: fraction.map(str::to_owned),
            whole_as_written: whole.to_owned(),
            is_zero,
        })
    }

    /// The text of tag 54 in a KHQR, as the SDK writes it; `None` when the SDK fails with
    /// error 4. KHR: `Math.round` of an integral value. USD: `toFixed(2)` when written with a
    /// point, otherwise unchanged.
    fn khqr_text(&self, currency: u16) -> Option<String> {
        let text = if currency == KHR {
            if self.fraction.as_deref().is_some_and(|f| f.bytes().any(|b| b != b'0')) {
                return None;
            }
            self.whole.clone()
        } else {
            match &self.fraction {
                None => self.whole_as_written.clone(),
                Some(_) => self.fixed_text(2)?,
            }
        };
        (text.len() <= 13).then_some(text)
    }

    /// The value with exactly `decimals` decimals; `None` when it has more, or is too long.
    fn fixed_text(&self, decimals: usize) -> Option<String> {
        let fraction = self.fraction.as_deref().unwrap_or("");
        if fraction.len() > decimals {
            return None;
        }
        let text = format!("{}.{:0<decimals$}", self.whole, fraction);
        debug_assert!(Decimal::from_str(&text).is_ok());
        (text.len() <= 13).then_some(text)
    }
}
