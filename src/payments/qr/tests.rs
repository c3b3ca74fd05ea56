//! Unit tests for the QR core.
//!
//! Goal: every structural error, every verification rule and every encode rule fires where it
//! should and nowhere else, and no input makes anything panic.
//! Method: table-driven cases through one `check_*` helper per area, payloads built with a valid
//! CRC by `with_crc`, and property tests (encode then decode returns the spec; arbitrary text
//! never panics; any single-character change is caught). `PROPTEST_CASES` raises the case count.

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::rules::{ErrorCode, Place, Rule};
use super::tlv::{self, DecodeErrorKind};
use super::*;

/// `body` + `6304` + its CRC.
fn with_crc(body: &str) -> String {
    let mut payload = format!("{body}6304");
    payload.push_str(&format!("{:04X}", tlv::crc16(payload.as_bytes())));
    payload
}

/// A minimal valid static individual KHQR body (no CRC), its parts replaceable by tests.
const STATIC_BODY: &str =
    "00020101021129180014jonhsmith@nbcq5204599953031165802KH5910Jonh Smith6010Phnom Penh";
const NOW: u64 = 1_735_689_600_000;

/// CRC-16/CCITT-FALSE by its definition, a bit at a time: the reference for `tlv::crc16`.
fn crc16_bitwise(bytes: &[u8]) -> u16 {
    let mut crc = 0xFFFF_u16;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 == 0 { crc << 1 } else { (crc << 1) ^ 0x1021 };
        }
    }
    crc
}

#[test]
fn crc_agrees_with_its_definition_at_every_length() {
    // Every length up to twice the largest payload, so every folding width and tail is met.
    let bytes: Vec<u8> = (0..2 * tlv::PAYLOAD_CHARS_MAX * 4 + 17)
        .map(|i| u8::try_from((i * 151 + 7) % 251).expect("below 251"))
        .collect();
    for len in 0..=bytes.len() {
        assert_eq!(tlv::crc16(&bytes[..len]), crc16_bitwise(&bytes[..len]), "{len} bytes");
    }
}

#[test]
fn crc_is_ccitt_false_over_utf8() {
    assert_eq!(tlv::crc16(b"123456789"), 0x29B1);
    // G07 carries Khmer text: the CRC must run over UTF-8 bytes, not UTF-16 units or chars.
    let g07 = "00020101021129180014jonhsmith@nbcq5204599953031165802KH5910Jonh Smith6009Siem Reap64280002km0108ចន ស្មីន0206សៀមរាប630438F4";
    assert_eq!(decode(g07).map(|d| d.crc()), Ok(0x38F4));
}

/// Decodes `payload` and expects the error `kind` (by id) at `offset`.
fn check_decode_error(payload: &str, kind: &str, offset: usize) {
    match decode(payload) {
        Ok(_) => panic!("{payload:?} decoded; expected {kind}"),
        Err(e) => {
            assert_eq!((e.kind.id(), e.offset), (kind, offset), "{payload:?}: {e}");
            assert!(!e.to_string().is_empty());
        }
    }
}

#[test]
fn structural_errors_say_where_and_what() {
    check_decode_error("", "tlv.empty", 0);
    check_decode_error("hello world", "crc.missing", 3);
    check_decode_error("63041234", "tlv.too_short", 8);
    check_decode_error(&format!("{STATIC_BODY}6304ZZZZ"), "crc.missing", STATIC_BODY.len());
    let good = with_crc(STATIC_BODY);
    let mut bad_crc = good.clone();
    bad_crc.replace_range(good.len() - 1.., if good.ends_with('0') { "1" } else { "0" });
    check_decode_error(&bad_crc, "crc.mismatch", STATIC_BODY.len() + 4);
    check_decode_error(&"0".repeat(600), "tlv.too_long", 512);
    // Structure errors inside a payload with a valid CRC.
    check_decode_error(&with_crc("0002010x"), "tlv.id_not_digits", 6);
    check_decode_error(&with_crc("000201A1021"), "tlv.id_not_digits", 6);
    check_decode_error(&with_crc("0002010102115x"), "tlv.id_not_digits", 12);
    check_decode_error(&with_crc("00020101AB11"), "tlv.length_not_digits", 8);
    // A length that runs into the CRC object.
    check_decode_error(&with_crc("0002010150ab"), "tlv.value_truncated", 10);
    // A template whose content is not TLV: the offset is inside the template.
    check_decode_error(&with_crc("000201620301a"), "tlv.header_truncated", 10);
    check_decode_error(&with_crc("00020162051xabc"), "tlv.id_not_digits", 10);
    check_decode_error(&with_crc("0102110002015802KH"), "tlv.format_indicator_missing", 0);
    check_decode_error(&with_crc("0002015802KH5802KH"), "tlv.duplicate_id", 12);
    check_decode_error(&with_crc("00020162100101A0101B"), "tlv.duplicate_id", 15);
}

#[test]
fn lengths_count_characters_not_bytes() {
    // "ចន" is 2 characters and 6 UTF-8 bytes.
    let payload = with_crc("00020164120002km0102ចន");
    let d = decode(&payload).expect("decodes");
    assert_eq!(d.sub(64, 1), Some("ចន"));
    // A byte-counted length (06) must fail: it overruns the template.
    check_decode_error(&with_crc("00020164120002km0106ចន"), "tlv.value_truncated", 20);
}

#[test]
fn crc_in_lower_case_is_accepted() {
    let upper = with_crc(STATIC_BODY);
    assert!(decode(&upper.to_lowercase()[..]).is_err(), "lower-casing the body changes the CRC");
    let mut lower = upper.clone();
    let tail = upper[upper.len() - 4..].to_lowercase();
    lower.replace_range(upper.len() - 4.., &tail);
    assert_eq!(decode(&lower).map(|d| d.crc()), decode(&upper).map(|d| d.crc()));
}

/// Verifies `with_crc(body)` at `NOW` in `mode` and expects `expected` (None = valid).
fn check_verify(body: &str, mode: Mode, expected: Option<Rule>) {
    let payload = with_crc(body);
    let result = verify(&payload, NOW, mode);
    let got = match result {
        Ok(()) => None,
        Err(Failure::Rule(v)) => Some(v.rule),
        Err(Failure::Structure(e)) => panic!("{body}: structure error {e}"),
    };
    assert_eq!(got, expected, "{body} in {mode:?}: {result:?}");
    // Every case of the rule tables goes through both paths too.
    check_one_pass(&payload);
}

fn strict(body: &str, expected: Option<Rule>) {
    check_verify(body, Mode::Strict, expected);
}

fn compat(body: &str, expected: Option<Rule>) {
    check_verify(body, Mode::SdkCompatible, expected);
}

#[test]
fn strict_khqr_rules_fire_in_precedence_order() {
    strict(STATIC_BODY, None);
    strict(&STATIC_BODY.replace("000201", "000202"), Some(Rule::PfiValue));
    strict(&STATIC_BODY.replace("010211", "010213"), Some(Rule::PoiValue));
    // Without `@` it is no longer a KHQR: tag 29 is then a generic EMVCo account template.
    strict(&STATIC_BODY.replace("@", "_"), None);
    assert_eq!(classify(&with_crc(&STATIC_BODY.replace("@", "_"))), PayloadKind::Emvco);
    strict(
        &STATIC_BODY.replace("0014jonhsmith@nbcq", "0014jon@smith@nbcq"),
        Some(Rule::AccountIdInvalid),
    );
    strict(
        &STATIC_BODY.replace("29180014jonhsmith@nbcq", "29300014jonhsmith@nbcq0208Dev Bank"),
        None,
    );
    strict(
        &STATIC_BODY.replace("29180014jonhsmith@nbcq", "29220014jonhsmith@nbcq0200"),
        Some(Rule::AcquiringBankMissing),
    );
    strict(
        &STATIC_BODY.replace("29180014jonhsmith@nbcq", "30180014jonhsmith@nbcq"),
        Some(Rule::MerchantIdMissing),
    );
    strict(
        &STATIC_BODY.replace("29180014jonhsmith@nbcq", "30280014jonhsmith@nbcq0106123456"),
        Some(Rule::AcquiringBankMissing),
    );
    strict(&STATIC_BODY.replace("52045999", "5204599A"), Some(Rule::MccInvalid));
    strict(&STATIC_BODY.replace("52045999", "5203599"), Some(Rule::MccLength));
    strict(&STATIC_BODY.replace("5303116", "5303978"), Some(Rule::CurrencyUnsupported));
    strict(&STATIC_BODY.replace("5802KH", "5802TH"), Some(Rule::CountryNotKh));
    strict(&STATIC_BODY.replace("5910Jonh Smith", "5900"), Some(Rule::NameMissing));
    strict(&STATIC_BODY.replace("6010Phnom Penh", "6016Phnom Penh City1"), Some(Rule::CityLength));
    strict(&format!("{STATIC_BODY}62040100"), Some(Rule::BillNumberLength));
    strict(&format!("{STATIC_BODY}64060002km"), Some(Rule::NameAltMissing));
    strict(&format!("{STATIC_BODY}64060102ចន"), Some(Rule::LanguagePreferenceMissing));
    // Order: 59 before 58 breaks ascending order.
    strict(
        &STATIC_BODY.replace("5802KH5910Jonh Smith", "5910Jonh Smith5802KH"),
        Some(Rule::TagOrder),
    );
    // UnionPay tag 15 with USD.
    let upi = STATIC_BODY.replace("010211", "0102111503abc").replace("5303116", "5303840");
    strict(&upi, Some(Rule::UpiWithUsd));
    compat(&upi, None); // The SDK verifier does not check it.
}

/// A dynamic body: amount `amount` in `currency`, timestamps `created` and `expires`.
fn dynamic_body(currency: &str, amount: &str, created: &str, expires: &str) -> String {
    let amount = format!("54{:02}{amount}", amount.chars().count());
    let ts = format!("0013{created}01{:02}{expires}", expires.len());
    format!(
        "00020101021229180014jonhsmith@nbcq52045999{currency}{amount}5802KH5910Jonh Smith6010Phnom Penh99{:02}{ts}",
        ts.len()
    )
}

#[test]
fn dynamic_khqr_rules() {
    let (created, expires) = ("1735689600000", "1735690200000");
    strict(&dynamic_body("5303116", "50000", created, expires), None);
    strict(&dynamic_body("5303116", "500.00", created, expires), Some(Rule::AmountInvalid));
    compat(&dynamic_body("5303116", "500.00", created, expires), None);
    strict(&dynamic_body("5303840", "1.234", created, expires), Some(Rule::AmountInvalid));
    strict(&dynamic_body("5303840", "0.00", created, expires), Some(Rule::AmountInvalid));
    strict(&dynamic_body("5303840", "1e3", created, expires), Some(Rule::AmountInvalid));
    compat(&dynamic_body("5303840", "1e3", created, expires), None); // The SDK's missing regex.
    strict(&dynamic_body("5303840", "1.50", created, "1735690200"), Some(Rule::ExpiryLength));
    compat(&dynamic_body("5303840", "1.50", created, "1735690200"), Some(Rule::ExpiryLength));
    strict(
        &dynamic_body("5303840", "1.50", created, "1735689000000"),
        Some(Rule::ExpiryBeforeCreation),
    );
    compat(
        &dynamic_body("5303840", "1.50", created, "1735689000000"),
        Some(Rule::ExpiryBeforeCreation),
    );
    strict(&dynamic_body("5303840", "1.50", "1735689000000", "1735689500000"), Some(Rule::Expired));
    // Expiry exactly at `now` is still valid (the SDK compares exp < now).
    strict(&dynamic_body("5303840", "1.50", "1735689000000", "1735689600000"), None);
    compat(&dynamic_body("5303840", "1.50", "1735689000000", "1735689600000"), None);
    // The SDK reads expiry through JavaScript's Number(): leading zeros and spaces vanish.
    compat(&dynamic_body("5303840", "1.50", created, "0001735690200000"), None);
    strict(&dynamic_body("5303840", "1.50", created, "0001735690200000"), Some(Rule::ExpiryLength));
    compat(&dynamic_body("5303840", "-5", created, expires), Some(Rule::AmountInvalid));
}

#[test]
fn sdk_quirks_are_reproduced_in_compatible_mode() {
    // 99 before 01: the SDK has not seen the POI when it reaches 99, so it skips the expiry
    // checks and accepts this long-expired dynamic code. In its usual place, 99 fails.
    let ts = "0013173568000000001131735680000000"; // 2024-12-31T21:20Z, before NOW
    let rest = "29180014jonhsmith@nbcq52045999530384054031.55802KH5910Jonh Smith6010Phnom Penh";
    let early = format!("0002019934{ts}010212{rest}");
    compat(&early, None);
    strict(&early, Some(Rule::TagOrder));
    compat(&format!("000201010212{rest}9934{ts}"), Some(Rule::Expired));
    // 64/01 without 64/00: the SDK throws a TypeError.
    compat(&format!("{STATIC_BODY}64060102ចន"), Some(Rule::SdkTypeError));
    // A repeated tag: the SDK stops reading and then misses the required tags after it.
    compat(&STATIC_BODY.replace("5802KH", "5802KH5802KH"), Some(Rule::NameMissing));
    // 30 followed by 29: the SDK maps 30 to 29 and stops at the "repeat".
    let both = STATIC_BODY.replace("29180014jonhsmith@nbcq", "30280014jonhsmith@nbcq0106123456");
    let both = both.replace("52045999", "29180014jonhsmith@nbcq52045999");
    compat(&both, Some(Rule::MccMissing));
    // a@b@c passes the SDK's split('@').length >= 2.
    compat(&STATIC_BODY.replace("0014jonhsmith@nbcq", "0014jon@smith@nbcq"), None);
    // Country KHM passes the SDK (length <= 3).
    compat(&STATIC_BODY.replace("5802KH", "5803KHM"), None);
    strict(&STATIC_BODY.replace("5802KH", "5803KHM"), Some(Rule::CountryLength));
}

#[test]
fn js_number_reads_like_javascript() {
    use super::verify::{js_number, js_number_string_len};
    let cases: [(Option<&str>, Option<&str>); 9] = [
        (None, Some("0")),
        (Some(""), Some("0")),
        (Some("  1735689600000 "), Some("1735689600000")),
        (Some("0001735689600000"), Some("1735689600000")),
        (Some("1.7e12"), Some("1700000000000")),
        (Some("+12"), Some("12")),
        (Some("0x1F"), None),
        (Some("abc"), None),
        (Some("12a"), None),
    ];
    for (input, expected) in cases {
        let got = js_number(input).map(|d| d.normalize().to_string());
        assert_eq!(got.as_deref(), expected, "{input:?}");
    }
    assert_eq!(js_number_string_len(Decimal::from(1_735_689_600_000_u64)), 13);
}

#[test]
fn strict_emvco_rules_for_other_schemes() {
    let upi = "000201010211153125000156250001561024401581200015204581253031565802CN5917XIAO LONG KITCHEN6008SHANGHAI";
    strict(upi, None);
    strict(&upi.replace("5303156", "53041560"), Some(Rule::CurrencyLength));
    strict(&upi.replace("5802CN", "5803CHN"), Some(Rule::CountryLength));
    strict(&format!("{upi}540588.00"), None); // EMVCo allows any root order.
    strict(&format!("{upi}5502045603100"), Some(Rule::TipInvalid));
    strict(&format!("{upi}55020256031.0"), None);
    strict(&format!("{upi}550203570512.50"), None);
    strict(&upi.replace("15312500015625000156102440158120001", ""), Some(Rule::AccountMissing));
    let yen = upi.replace("5303156", "5303392").replace("5802CN", "540410005802JP");
    strict(&yen, None);
    strict(&yen.replace("54041000", "5406100.50"), Some(Rule::AmountInvalid));
}

#[test]
fn url_codes_are_not_verified_as_emvco() {
    let result = verify("wxp://f2f0XO9MxuKhCB52", NOW, Mode::Strict);
    assert!(matches!(result, Err(Failure::Rule(v)) if v.rule == Rule::NotEmvco));
    let result = verify("wxp://f2f0XO9MxuKhCB52", NOW, Mode::SdkCompatible);
    assert!(matches!(result, Err(Failure::Structure(e)) if e.kind == DecodeErrorKind::CrcMissing));
}

/// Classifies `payload` and expects `kind`.
fn check_classify(payload: &str, kind: PayloadKind) {
    assert_eq!(classify(payload), kind, "{payload}");
}

#[test]
fn classify_routes_every_kind() {
    check_classify(&with_crc(STATIC_BODY), PayloadKind::Khqr);
    check_classify(
        &with_crc(
            "000201010211153125000156250001561024401581200015204581253031565802CN5903ABC6002SH",
        ),
        PayloadKind::Emvco,
    );
    check_classify("wxp://f2f0XO9MxuKhCB52", PayloadKind::WechatUrl);
    check_classify("WXP://f2f0XO9MxuKhCB52", PayloadKind::WechatUrl);
    check_classify("weixin://wxpay/bizpayurl?pr=AbCdEf1", PayloadKind::WechatUrl);
    check_classify("https://payapp.weixin.qq.com/qr/AbC?t=1", PayloadKind::WechatUrl);
    check_classify("https://wx.tenpay.com/f2f?t=AQ", PayloadKind::WechatUrl);
    check_classify("https://qr.95516.com/00010000/01116734536465", PayloadKind::UnionpayUrl);
    check_classify("https://qr.alipay.com/fkx12345", PayloadKind::Unknown);
    check_classify("wxp://", PayloadKind::Unknown);
    check_classify("wxp://has space", PayloadKind::Unknown);
    check_classify("https://qr.95516.com/0001\u{7f}", PayloadKind::Unknown);
    check_classify(&format!("wxp://{}", "a".repeat(506)), PayloadKind::WechatUrl);
    check_classify(&format!("wxp://{}", "a".repeat(507)), PayloadKind::Unknown);
    check_classify(&with_crc(STATIC_BODY).replace("Jonh", "John"), PayloadKind::Unknown);
    check_classify("", PayloadKind::Unknown);
}

fn spec(amount: Option<AmountInput>, currency: u16) -> EncodeSpec {
    EncodeSpec {
        kind: CodeKind::Individual,
        account_id: Some("a@devb".into()),
        merchant_name: Some("A".into()),
        currency_numeric: Some(currency),
        amount,
        created_at_ms: Some(NOW),
        expires_at_ms: Some(NOW + 60_000),
        ..EncodeSpec::default()
    }
}

/// Encodes an amount and expects tag 54 to read `expected` (None = static), or `Err(code)`.
fn check_amount(amount: AmountInput, currency: u16, expected: Result<Option<&str>, ErrorCode>) {
    let result = encode(&spec(Some(amount.clone()), currency));
    let got = match &result {
        Ok(payload) => Ok(decode(payload).expect("decodes").get(54).map(str::to_owned)),
        Err(v) => Err(v.rule.sdk_code().expect("amount rules have SDK codes")),
    };
    assert_eq!(got, expected.map(|o| o.map(str::to_owned)), "{amount:?} in {currency}");
}

#[test]
fn amounts_are_formatted_as_the_sdk_formats_them() {
    let number = |s: &str| AmountInput::Number(s.parse::<Decimal>().expect("decimal"));
    let text = |s: &str| AmountInput::Text(s.into());
    check_amount(number("1.5"), 840, Ok(Some("1.50")));
    check_amount(number("1.50"), 840, Ok(Some("1.50")));
    check_amount(number("1.00"), 840, Ok(Some("1")));
    check_amount(text("1.00"), 840, Ok(Some("1.00")));
    check_amount(text("007"), 840, Ok(Some("007")));
    check_amount(text("007.5"), 840, Ok(Some("7.50")));
    check_amount(text(".5"), 840, Ok(Some("0.50")));
    check_amount(number("0"), 840, Ok(None));
    check_amount(text("0.00"), 116, Ok(None));
    check_amount(number("50000"), 116, Ok(Some("50000")));
    check_amount(text("0100.0"), 116, Ok(Some("100")));
    check_amount(number("100.5"), 116, Err(ErrorCode::TransactionAmountInvalid));
    check_amount(number("1.234"), 840, Err(ErrorCode::TransactionAmountInvalid));
    check_amount(number("-5"), 840, Err(ErrorCode::TransactionAmountInvalid));
    check_amount(text("12a"), 840, Err(ErrorCode::TransactionAmountInvalid));
    check_amount(text("1e21"), 840, Err(ErrorCode::TransactionAmountInvalid));
    check_amount(number("12345678901.5"), 840, Err(ErrorCode::TransactionAmountInvalid));
    check_amount(number("9999999999999"), 116, Ok(Some("9999999999999")));
    check_amount(number("99999999999999"), 116, Err(ErrorCode::TransactionAmountInvalid));
}

/// Encodes `spec` and expects the violation `rule` at `key`.
fn check_encode_error(spec: EncodeSpec, rule: Rule, key: &str) {
    match encode(&spec) {
        Ok(payload) => panic!("encoded {payload}; expected {rule:?}"),
        Err(v) => assert_eq!((v.rule, v.place), (rule, Place::Key(leak(key))), "{v}"),
    }
}

fn leak(key: &str) -> &'static str {
    Box::leak(key.to_owned().into_boxed_str())
}

#[test]
fn encode_rules_and_their_precedence() {
    let base = spec(None, 116);
    // Account errors come before amount errors, as in the SDK.
    let both_bad = EncodeSpec {
        account_id: Some("no-at-sign".into()),
        amount: Some(AmountInput::Text("x".into())),
        ..base.clone()
    };
    check_encode_error(both_bad, Rule::AccountIdInvalid, "account_id");
    check_encode_error(
        EncodeSpec { merchant_id: Some("1".into()), ..base.clone() },
        Rule::FieldNotApplicable,
        "merchant_id",
    );
    check_encode_error(
        EncodeSpec { merchant_name: Some("😀".into()), ..base.clone() },
        Rule::CharacterOutsideBmp,
        "merchant_name",
    );
    for (key, text) in [
        ("merchant_name", "Shop\u{0}1"),
        ("merchant_city", "Phnom\u{1b}[31m"),
        ("purpose", "pay \u{202E}gnp.exe"),
        ("store_label", "a\u{200B}b"),
        ("bill_number", "\u{FEFF}1"),
    ] {
        let mut spec = base.clone();
        match key {
            "merchant_name" => spec.merchant_name = Some(text.into()),
            "merchant_city" => spec.merchant_city = Some(text.into()),
            "purpose" => spec.purpose = Some(text.into()),
            "store_label" => spec.store_label = Some(text.into()),
            _ => spec.bill_number = Some(text.into()),
        }
        check_encode_error(spec, Rule::ControlCharacter, key);
    }
    check_encode_error(
        EncodeSpec { merchant_name_alt: Some("ចន".into()), ..base.clone() },
        Rule::LanguagePreferenceMissing,
        "language_preference",
    );
    let long = "X".repeat(25);
    let full_62 = EncodeSpec {
        bill_number: Some(long.clone()),
        mobile_number: Some(long.clone()),
        store_label: Some(long.clone()),
        terminal_label: Some(long.clone()),
        ..base.clone()
    };
    check_encode_error(full_62, Rule::TemplateTooLong, "bill_number");
    let dynamic = EncodeSpec { amount: Some(AmountInput::Text("5".into())), ..base.clone() };
    check_encode_error(
        EncodeSpec { created_at_ms: None, ..dynamic.clone() },
        Rule::CreationMissing,
        "created_at_ms",
    );
    check_encode_error(
        EncodeSpec { expires_at_ms: Some(0), ..dynamic.clone() },
        Rule::ExpiryMissing,
        "expires_at_ms",
    );
    let unionpay = EncodeSpec { kind: CodeKind::Unionpay, ..EncodeSpec::default() };
    check_encode_error(unionpay.clone(), Rule::UpiMissing, "upi_account");
    let unionpay = EncodeSpec {
        upi_account: Some("1".repeat(31)),
        merchant_name: Some("M".into()),
        ..unionpay
    };
    check_encode_error(unionpay.clone(), Rule::CityMissing, "merchant_city");
    check_encode_error(
        EncodeSpec {
            merchant_city: Some("SH".into()),
            currency_numeric: Some(840),
            ..unionpay.clone()
        },
        Rule::CurrencyUnsupported,
        "currency",
    );
    check_encode_error(
        EncodeSpec { merchant_city: Some("SH".into()), created_at_ms: Some(NOW), ..unionpay },
        Rule::FieldNotApplicable,
        "created_at_ms",
    );
}

#[test]
fn every_rule_and_code_is_described() {
    let mut ids: Vec<&str> = Rule::ALL.iter().map(|r| r.id()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), Rule::ALL.len(), "rule ids are unique");
    assert_eq!(ErrorCode::ALL.len(), 51);
    for (i, code) in ErrorCode::ALL.iter().enumerate() {
        assert_eq!(usize::from(code.number()), i + 1);
        assert_eq!(ErrorCode::from_number(code.number()), Some(*code));
    }
}

// ---- Property tests ---------------------------------------------------------------------------

/// Text of 1..=max characters from a mix of ASCII, Khmer and CJK (all in the BMP).
fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::char::range(' ', '~'),
            1 => prop::char::range('\u{1780}', '\u{17DD}'),
            1 => prop::char::range('\u{4E00}', '\u{4FFF}'),
        ],
        1..=max,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn ascii(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::char::range('!', '~'), 1..=max)
        .prop_map(|c| c.into_iter().collect())
}

fn khqr_spec() -> impl Strategy<Value = EncodeSpec> {
    let account = (ascii(12), ascii(12))
        .prop_map(|(n, b)| format!("{}@{}", n.replace('@', "a"), b.replace('@', "b")));
    let additional = prop::collection::vec(prop::option::of(text(14)), 5);
    let language = prop::option::of((
        prop::sample::select(vec!["km", "ZH", "en"]),
        text(25),
        prop::option::of(text(15)),
    ));
    (
        (
            any::<bool>(),
            account,
            text(25),
            prop::option::of(text(15)),
            ascii(20),
            prop::option::of(ascii(20)),
        ),
        (
            prop::sample::select(vec![116u16, 840]),
            prop::option::of(1u64..10_000_000),
            prop::option::of(ascii(31)),
        ),
        (additional, language, 0u64..100_000_000),
    )
        .prop_map(
            |(
                (merchant, account, name, city, id, bank),
                (currency, minor, upi),
                (add, lang, ttl),
            )| {
                let amount = minor.map(|m| {
                    if currency == 116 {
                        AmountInput::Number(Decimal::from(m))
                    } else {
                        AmountInput::Number(Decimal::new(m as i64, 2))
                    }
                });
                let upi = upi.filter(|_| currency == 116);
                EncodeSpec {
                    kind: if merchant { CodeKind::Merchant } else { CodeKind::Individual },
                    account_id: Some(account),
                    merchant_name: Some(name),
                    merchant_city: city,
                    merchant_id: merchant.then(|| id.clone()),
                    acquiring_bank: if merchant {
                        Some(bank.unwrap_or_else(|| "Bank".into()))
                    } else {
                        bank
                    },
                    account_information: (!merchant).then_some(id),
                    currency_numeric: Some(currency),
                    amount,
                    mcc: Some("5812".into()),
                    bill_number: add[0].clone(),
                    mobile_number: add[1].clone(),
                    store_label: add[2].clone(),
                    terminal_label: add[3].clone(),
                    purpose: add[4].clone(),
                    language_preference: lang.as_ref().map(|l| l.0.to_owned()),
                    merchant_name_alt: lang.as_ref().map(|l| l.1.clone()),
                    merchant_city_alt: lang.and_then(|l| l.2),
                    upi_account: upi,
                    created_at_ms: Some(NOW),
                    expires_at_ms: Some(NOW + ttl),
                }
            },
        )
}

/// The spec a decoded payload describes (the inverse of `encode` for valid KHQR specs).
fn spec_of(d: &Decoded<'_>, original: &EncodeSpec) -> EncodeSpec {
    let owned = |s: Option<&str>| s.map(str::to_owned);
    let merchant = d.bakong_account_template().map(|f| f.id) == Some(30);
    EncodeSpec {
        kind: if merchant { CodeKind::Merchant } else { CodeKind::Individual },
        account_id: owned(d.account_id()),
        merchant_name: owned(d.get(59)),
        merchant_city: owned(d.get(60))
            .filter(|c| original.merchant_city.is_some() || c != "Phnom Penh"),
        merchant_id: owned(d.merchant_id()),
        acquiring_bank: owned(d.acquiring_bank()),
        account_information: owned(d.account_information()),
        currency_numeric: d.get(53).and_then(|c| c.parse().ok()),
        amount: d.get(54).map(|a| AmountInput::Number(a.parse::<Decimal>().expect("decimal"))),
        mcc: owned(d.get(52)),
        bill_number: owned(d.sub(62, 1)),
        mobile_number: owned(d.sub(62, 2)),
        store_label: owned(d.sub(62, 3)),
        terminal_label: owned(d.sub(62, 7)),
        purpose: owned(d.sub(62, 8)),
        language_preference: owned(d.sub(64, 0)),
        merchant_name_alt: owned(d.sub(64, 1)),
        merchant_city_alt: owned(d.sub(64, 2)),
        upi_account: owned(d.upi_account()),
        created_at_ms: if d.is_dynamic() {
            d.created_at_raw().and_then(decode::parse_epoch_ms)
        } else {
            original.created_at_ms
        },
        expires_at_ms: if d.is_dynamic() {
            d.expires_at_raw().and_then(decode::parse_epoch_ms)
        } else {
            original.expires_at_ms
        },
    }
}

/// Compares amounts by value (encode writes 1.5 as "1.50").
fn normalised(mut spec: EncodeSpec) -> EncodeSpec {
    spec.amount = spec.amount.map(|a| match a {
        AmountInput::Number(n) => AmountInput::Number(n.normalize()),
        other => other,
    });
    spec
}

proptest! {
    #![proptest_config(crate::testing::proptest_config(256))]

    #[test]
    fn decode_of_encode_gives_back_the_spec(spec in khqr_spec()) {
        match encode(&spec) {
            Ok(payload) => {
                let d = decode(&payload).expect("our own output decodes");
                prop_assert!(d.is_khqr());
                // Our own ASCII codes take the one-pass path and pass it.
                if payload.is_ascii() {
                    prop_assert!(matches!(d.sound(), decode::Sound::Khqr { .. }), "{}", payload);
                }
                prop_assert_eq!(normalised(spec_of(&d, &spec)), normalised(spec.clone()));
                prop_assert_eq!(verify(&payload, NOW, Mode::Strict), Ok(()));
                prop_assert_eq!(verify(&payload, NOW, Mode::SdkCompatible), Ok(()));
                prop_assert_eq!(classify(&payload), PayloadKind::Khqr);
            }
            // Long texts can overflow a 99-character template; nothing else may fail.
            Err(v) => prop_assert_eq!(v.rule, Rule::TemplateTooLong),
        }
    }

    #[test]
    fn any_single_character_change_is_caught(spec in khqr_spec(), at in any::<prop::sample::Index>(), c in prop::char::range(' ', '~')) {
        // Only a long text overflowing its template may refuse to encode; that case is
        // rejected (and counted against proptest's limit), any other error fails.
        let encoded = encode(&spec);
        if let Err(v) = &encoded {
            prop_assert_eq!(v.rule, Rule::TemplateTooLong);
        }
        prop_assume!(encoded.is_ok());
        let payload = encoded.expect("assumed");
        let chars: Vec<char> = payload.chars().collect();
        let i = at.index(chars.len() - 4); // Not the CRC digits themselves.
        prop_assume!(chars[i] != c);
        let mut changed = chars.clone();
        changed[i] = c;
        let changed: String = changed.into_iter().collect();
        prop_assert!(decode(&changed).is_err(), "{} still decodes", changed);
    }

    #[test]
    fn the_one_pass_path_agrees_with_the_rules_one_by_one(
        spec in khqr_spec(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, prop::sample::select(MUTANTS.to_vec())), 1..4),
    ) {
        // Edits inside a valid code (a character replaced, inserted or removed), CRC recomputed,
        // so that the rules and the structure are reached rather than the CRC check.
        prop_assume!(encode(&spec).is_ok());
        let payload = encode(&spec).expect("assumed");
        let mut body: Vec<char> = payload.chars().collect();
        body.truncate(body.len() - 8);
        for (at, kind, c) in edits {
            let i = at.index(body.len());
            match kind {
                0 => body[i] = c,
                1 => body.insert(i, c),
                _ => { body.remove(i); }
            }
        }
        let payload = with_crc(&body.into_iter().collect::<String>());
        check_one_pass(&payload);
    }

    #[test]
    fn arbitrary_text_never_panics(s in ".{0,200}") {
        let _ = decode(&s);
        let _ = lex(&s);
        let _ = verify(&s, NOW, Mode::Strict);
        let _ = verify(&s, NOW, Mode::SdkCompatible);
        let _ = classify(&s);
    }

    #[test]
    fn tlv_shaped_text_never_panics(parts in prop::collection::vec(("[0-9]{2}", 0u8..40, "[ -~ក-ឿ]{0,40}"), 0..12)) {
        let mut body = String::new();
        for (id, len, value) in parts {
            body.push_str(&format!("{id}{len:02}{value}"));
        }
        let payload = with_crc(&body);
        if let Ok(d) = lex(&payload) {
            let _ = d.verify(NOW, Mode::Strict);
            let _ = d.verify(NOW, Mode::SdkCompatible);
            let _ = serde_json::to_string(&d.tag_tree());
        }
        let _ = decode(&payload);
        let _ = classify(&payload);
    }
}

/// Characters the one-pass proptest writes into codes: digits, which move lengths and ids and
/// amounts, and what account ids, names and amounts are made of.
const MUTANTS: [char; 12] = ['0', '1', '2', '6', '9', '@', ' ', '.', 'a', 'Z', '\u{7f}', 'ក'];

/// The one-pass path and the general lexer with the rules one by one give the same objects and
/// the same verdict at every time that matters.
fn check_one_pass(payload: &str) {
    let (fast, slow) = (decode::lex_with(payload, true), decode::lex_with(payload, false));
    let (fast, slow) = match (fast, slow) {
        (Ok(fast), Ok(slow)) => (fast, slow),
        (fast, slow) => {
            assert_eq!(fast.err(), slow.err(), "{payload}");
            return;
        }
    };
    assert_eq!(fast.fields().collect::<Vec<_>>(), slow.fields().collect::<Vec<_>>(), "{payload}");
    assert_eq!(fast.duplicate(), slow.duplicate(), "{payload}");
    let tree = |d: &Decoded<'_>| serde_json::to_string(&d.tag_tree()).expect("a tree serialises");
    assert_eq!(tree(&fast), tree(&slow), "{payload}");
    assert_eq!(slow.sound(), decode::Sound::Unchecked);
    let expiry = fast.expires_at_raw().and_then(decode::parse_epoch_ms).unwrap_or(NOW);
    for now in [0, NOW, expiry.saturating_sub(1), expiry, expiry + 1, u64::MAX] {
        for mode in [Mode::Strict, Mode::SdkCompatible] {
            assert_eq!(fast.verify(now, mode), slow.verify(now, mode), "{payload} at {now}");
        }
    }
}

#[test]
fn the_one_pass_path_takes_the_common_case_and_hands_on_the_rest() {
    let g09 = "00020101021230370011coffee@devb01061234560208Dev Bank520458125303840540510.255802KH5912Coffee Klang6010Phnom Penh62630105#00010211855875758570310Klang BKK10709Counter 20808Latte x2993400131735689600000011317356905000006304C13F";
    let sound = |payload: &str| lex(payload).expect("decodes").sound();
    let expires_at_ms = Some(1_735_690_500_000);
    assert_eq!(sound(g09), decode::Sound::Khqr { expires_at_ms });
    check_one_pass(g09);
    // A static code has no expiry to check.
    let static_code = with_crc(STATIC_BODY);
    assert_eq!(sound(&static_code), decode::Sound::Khqr { expires_at_ms: None });
    // Out of order ids, a repeated id, a broken rule, non-ASCII text: the general path.
    for body in [
        "01021100020129180014jonhsmith@nbcq5204599953031165802KH5910Jonh Smith6010Phnom Penh",
        "00020101021129180014jonhsmith@nbcq52045999520459995303116",
        "00020101021129180014jonhsmith@nbcq5204599A53031165802KH5910Jonh Smith6010Phnom Penh",
        "00020101021129180014jonhsmith@nbcq5204599953031165802KH5910Jonh Smith6007ភ្នំពេញ",
    ] {
        let payload = with_crc(body);
        let d = lex(&payload).expect("each of these lexes");
        assert_eq!(d.sound(), decode::Sound::Unchecked, "{payload}");
        check_one_pass(&payload);
    }
}

/// Thirteen digits a digit at a time: the reference for the word-at-a-time `parse_epoch_ms`.
fn epoch_ms_by_digit(text: &str) -> Option<u64> {
    let ok = text.len() == 13 && text.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| text.bytes().fold(0, |value, b| value * 10 + u64::from(b - b'0')))
}

/// The amount rule as written in the SDK's terms, split at the first point: the reference for
/// the one-walk `amount_is_valid`.
fn amount_is_valid_by_parts(value: &str, decimals_max: usize) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (whole, fraction) = match value.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (value, None),
    };
    let fraction_ok =
        fraction.is_none_or(|f| decimals_max > 0 && digits(f) && f.len() <= decimals_max);
    (1..=13).contains(&value.len())
        && digits(whole)
        && fraction_ok
        && value.bytes().any(|b| (b'1'..=b'9').contains(&b))
}

proptest! {
    #![proptest_config(crate::testing::proptest_config(2048))]

    // Digits and their neighbours in ASCII (`/` and `:`, and the bytes 6 above and below
    // them), so that every byte lane of the word check is tried at its edges.
    #[test]
    fn epoch_ms_agrees_with_reading_a_digit_at_a_time(text in "[0-9/:*@?]{11,14}|[0-9]{13}") {
        prop_assert_eq!(decode::parse_epoch_ms(&text), epoch_ms_by_digit(&text));
    }

    #[test]
    fn amount_rule_agrees_with_its_statement(value in "[0-9.a -]{0,15}|[0-9]{0,14}\\.?[0-9]{0,4}", decimals_max in 0usize..4) {
        prop_assert_eq!(verify::amount_is_valid(&value, decimals_max), amount_is_valid_by_parts(&value, decimals_max));
    }
}

#[test]
fn epoch_ms_reads_the_extremes() {
    assert_eq!(decode::parse_epoch_ms("0000000000000"), Some(0));
    assert_eq!(decode::parse_epoch_ms("9999999999999"), Some(9_999_999_999_999));
    assert_eq!(decode::parse_epoch_ms("1735689600000"), Some(NOW));
    assert_eq!(decode::parse_epoch_ms("1735689600001"), Some(NOW + 1));
    assert_eq!(decode::parse_epoch_ms("173568960000:"), None);
    assert_eq!(decode::parse_epoch_ms("/735689600000"), None);
    assert_eq!(decode::parse_epoch_ms("17356896000000"), None);
}

#[test]
fn the_ascii_check_agrees_with_the_standard_one_at_every_length_and_place() {
    for len in 0..=80 {
        let clean = vec![b'7'; len];
        assert!(tlv::all_ascii(&clean), "{len}");
        for at in 0..len {
            for high in [0x80, 0xC2, 0xFF] {
                let mut bytes = clean.clone();
                bytes[at] = high;
                assert_eq!(tlv::all_ascii(&bytes), bytes.is_ascii(), "{len} {at}");
                assert!(!tlv::all_ascii(&bytes), "{len} {at} {high:#x}");
            }
        }
    }
}
