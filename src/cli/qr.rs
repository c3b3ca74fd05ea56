//! `sim qr decode|verify|encode`.

use std::io::Write;

use anyhow::{Context, bail};
use clap::Subcommand;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::Serialize;

use super::{Outcome, SMALL_INPUT_BYTES_MAX, read_text};
use crate::payments::qr::{
    self, AmountInput, CodeKind, Decoded, EncodeSpec, Mode, PayloadKind,
    decode::{TagTree, parse_epoch_ms},
};

#[derive(Debug, Subcommand)]
pub(super) enum QrCommand {
    /// Print a payload's kind, raw TLV tree and typed fields as one JSON object.
    ///
    /// Exits 0 when the TLV structure and CRC parse (or the payload is a recognised URL code),
    /// 2 otherwise, with the error on stderr.
    Decode {
        /// The scanned payload.
        payload: String,
    },
    /// Check a payload against the KHQR (or EMVCo) rules and print the verdict as JSON.
    ///
    /// Exits 0 when valid, 1 when not.
    Verify {
        /// The scanned payload.
        payload: String,
        /// The time to check expiry against, epoch milliseconds (default: now).
        #[arg(long, value_name = "MS")]
        now_ms: Option<u64>,
        /// Give the official bakong-khqr SDK's verdicts, its leniencies included.
        #[arg(long)]
        sdk_compatible: bool,
    },
    /// Generate a payload from a JSON spec (a file, or - for stdin) and print it.
    Encode {
        /// Path of the JSON spec, or - to read standard input.
        spec: String,
    },
}

pub(super) fn run(command: QrCommand) -> anyhow::Result<Outcome> {
    match command {
        QrCommand::Decode { payload } => decode(&payload),
        QrCommand::Verify { payload, now_ms, sdk_compatible } => {
            let mode = if sdk_compatible { Mode::SdkCompatible } else { Mode::Strict };
            verify(&payload, now_ms.unwrap_or_else(now_epoch_ms), mode)
        }
        QrCommand::Encode { spec } => encode(&spec),
    }
}

fn now_epoch_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, value).context("writing JSON to stdout")?;
    writeln!(out).context("writing to stdout")?;
    Ok(())
}

fn decode(payload: &str) -> anyhow::Result<Outcome> {
    if let Some(kind) = qr::classify::url_kind(payload) {
        print_json(&DecodeOutput::url(kind))?;
        return Ok(Outcome::Success);
    }
    match qr::decode(payload) {
        Ok(decoded) => {
            print_json(&DecodeOutput::emvco(&decoded))?;
            Ok(Outcome::Success)
        }
        Err(error) => {
            print_json(&DecodeOutput::url(PayloadKind::Unknown))?;
            bail!("cannot decode the payload: {error}")
        }
    }
}

/// The JSON of `sim qr decode`, keys in a fixed order.
#[derive(Default, serde::Serialize)]
struct DecodeOutput<'a> {
    kind: &'static str,
    tags: TagTree<'a>,
    point_of_initiation: Option<&'static str>,
    account_id: Option<&'a str>,
    merchant_name: Option<&'a str>,
    merchant_city: Option<&'a str>,
    merchant_id: Option<&'a str>,
    acquiring_bank: Option<&'a str>,
    account_information: Option<&'a str>,
    mcc: Option<&'a str>,
    currency: Option<&'a str>,
    amount: Option<&'a str>,
    country: Option<&'a str>,
    bill_number: Option<&'a str>,
    mobile_number: Option<&'a str>,
    store_label: Option<&'a str>,
    terminal_label: Option<&'a str>,
    purpose: Option<&'a str>,
    language_preference: Option<&'a str>,
    merchant_name_alt: Option<&'a str>,
    merchant_city_alt: Option<&'a str>,
    upi_account: Option<&'a str>,
    created_at_ms: Option<u64>,
    expires_at_ms: Option<u64>,
    crc: Option<&'a str>,
    md5: Option<String>,
}

impl<'a> DecodeOutput<'a> {
    /// A payload with no TLV to show: its kind, and nothing else.
    fn url(kind: PayloadKind) -> Self {
        Self { kind: kind.name(), ..Self::default() }
    }

    fn emvco(d: &Decoded<'a>) -> Self {
        let khqr = d.is_khqr();
        let kind = if khqr { PayloadKind::Khqr } else { PayloadKind::Emvco };
        let bakong = |value: Option<&'a str>| value.filter(|_| khqr);
        let currency = d.get(53).map(|numeric| qr::currency_alpha(numeric).unwrap_or(numeric));
        Self {
            kind: kind.name(),
            tags: d.tag_tree(),
            point_of_initiation: d.get(1).and_then(|poi| match poi {
                "11" => Some("static"),
                "12" => Some("dynamic"),
                _ => None,
            }),
            account_id: bakong(d.account_id()),
            merchant_name: d.get(59),
            merchant_city: d.get(60),
            merchant_id: bakong(d.merchant_id()),
            acquiring_bank: bakong(d.acquiring_bank()),
            account_information: bakong(d.account_information()),
            mcc: d.get(52),
            currency,
            amount: d.get(54),
            country: d.get(58),
            bill_number: d.sub(62, 1),
            mobile_number: d.sub(62, 2),
            store_label: d.sub(62, 3),
            terminal_label: d.sub(62, 7),
            purpose: d.sub(62, 8),
            language_preference: d.sub(64, 0),
            merchant_name_alt: d.sub(64, 1),
            merchant_city_alt: d.sub(64, 2),
            upi_account: d.upi_account(),
            created_at_ms: bakong(d.created_at_raw()).and_then(parse_epoch_ms),
            expires_at_ms: bakong(d.expires_at_raw()).and_then(parse_epoch_ms),
            crc: d.get(63),
            md5: Some(qr::md5_hex(d.payload())),
        }
    }
}

fn verify(payload: &str, now_ms: u64, mode: Mode) -> anyhow::Result<Outcome> {
    let kind = qr::classify(payload);
    let mode_name = match mode {
        Mode::Strict => "strict",
        Mode::SdkCompatible => "sdk_compatible",
    };
    let result = qr::verify(payload, now_ms, mode);
    let output = VerifyOutput {
        valid: result.is_ok(),
        error_code: result.as_ref().err().and_then(|f| f.sdk_code()).map(|c| c.number()),
        rule: result.as_ref().err().map(|f| f.id()),
        message: result.as_ref().err().map(|f| f.to_string()),
        offset: result.as_ref().err().map(|f| f.offset()),
        kind: kind.name(),
        mode: mode_name,
        now_ms,
    };
    print_json(&output)?;
    Ok(if result.is_ok() { Outcome::Success } else { Outcome::Negative })
}

/// The JSON of `sim qr verify`, keys in a fixed order.
#[derive(serde::Serialize)]
struct VerifyOutput {
    valid: bool,
    error_code: Option<u8>,
    rule: Option<&'static str>,
    message: Option<String>,
    offset: Option<usize>,
    kind: &'static str,
    mode: &'static str,
    now_ms: u64,
}

/// The JSON encode spec as users write it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    kind: SpecKind,
    account_id: Option<String>,
    merchant_name: Option<String>,
    merchant_city: Option<String>,
    merchant_id: Option<String>,
    acquiring_bank: Option<String>,
    account_information: Option<String>,
    currency: Option<serde_json::Value>,
    amount: Option<serde_json::Value>,
    mcc: Option<String>,
    bill_number: Option<String>,
    mobile_number: Option<String>,
    store_label: Option<String>,
    terminal_label: Option<String>,
    purpose: Option<String>,
    language_preference: Option<String>,
    merchant_name_alt: Option<String>,
    merchant_city_alt: Option<String>,
    upi_account: Option<String>,
    created_at_ms: Option<u64>,
    expires_at_ms: Option<u64>,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum SpecKind {
    Individual,
    Merchant,
    Unionpay,
}

fn encode(path: &str) -> anyhow::Result<Outcome> {
    let text = read_text(std::path::Path::new(path), SMALL_INPUT_BYTES_MAX, "encode spec")?;
    let name = if path == "-" { "<stdin>" } else { path };
    let file: SpecFile =
        serde_json::from_str(&text).with_context(|| format!("encode spec {name} is not valid"))?;
    let spec = spec_from_file(file).with_context(|| format!("encode spec {name}"))?;
    let payload = qr::encode(&spec).map_err(|v| anyhow::anyhow!("encode spec {name}: {v}"))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{payload}").context("writing to stdout")?;
    Ok(Outcome::Success)
}

fn spec_from_file(file: SpecFile) -> anyhow::Result<EncodeSpec> {
    let kind = match file.kind {
        SpecKind::Individual => CodeKind::Individual,
        SpecKind::Merchant => CodeKind::Merchant,
        SpecKind::Unionpay => CodeKind::Unionpay,
    };
    let currency_numeric = file.currency.as_ref().map(currency_from_json).transpose()?;
    let amount = file.amount.as_ref().map(amount_from_json).transpose()?;
    // The SDK stamps a dynamic KHQR with Date.now(); so do we, unless the spec pins the time.
    let created_at_ms = match kind {
        CodeKind::Unionpay => file.created_at_ms,
        CodeKind::Individual | CodeKind::Merchant => {
            Some(file.created_at_ms.unwrap_or_else(now_epoch_ms))
        }
    };
    Ok(EncodeSpec {
        kind,
        account_id: file.account_id,
        merchant_name: file.merchant_name,
        merchant_city: file.merchant_city,
        merchant_id: file.merchant_id,
        acquiring_bank: file.acquiring_bank,
        account_information: file.account_information,
        currency_numeric,
        amount,
        mcc: file.mcc,
        bill_number: file.bill_number,
        mobile_number: file.mobile_number,
        store_label: file.store_label,
        terminal_label: file.terminal_label,
        purpose: file.purpose,
        language_preference: file.language_preference,
        merchant_name_alt: file.merchant_name_alt,
        merchant_city_alt: file.merchant_city_alt,
        upi_account: file.upi_account,
        created_at_ms,
        expires_at_ms: file.expires_at_ms,
    })
}

/// `"KHR"`, `"116"` or `116`.
fn currency_from_json(value: &serde_json::Value) -> anyhow::Result<u16> {
    let text = match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        other => {
            bail!("key `currency`: expected an ISO 4217 code such as \"KHR\" or 116, found {other}")
        }
    };
    if let Some(numeric) = qr::currency_numeric(&text) {
        return Ok(numeric);
    }
    match text.parse::<u16>() {
        Ok(numeric) if text.len() == 3 => Ok(numeric),
        _ => bail!(
            "key `currency`: {text:?} is not an ISO 4217 code we know (KHR, USD, CNY or a 3-digit number)"
        ),
    }
}

/// A JSON number (read from its exact digits, never through f64) or a string.
fn amount_from_json(value: &serde_json::Value) -> anyhow::Result<AmountInput> {
    match value {
        serde_json::Value::String(s) => Ok(AmountInput::Text(s.clone())),
        serde_json::Value::Number(n) => {
            let text = n.to_string();
            let parsed = if text.contains(['e', 'E']) {
                Decimal::from_scientific(&text)
            } else {
                text.parse::<Decimal>()
            };
            let number =
                parsed.with_context(|| format!("key `amount`: {text} cannot be held exactly"))?;
            Ok(AmountInput::Number(number))
        }
        other => bail!("key `amount`: expected a number or a string, found {other}"),
    }
}
