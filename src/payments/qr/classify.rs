//! What kind of code a scanned payload is, so that the payer's app can route it.
//!
//! EMVCo payloads (KHQR, UnionPay MPM and others) carry their data and a CRC. WeChat Pay merchant
//! codes and mainland UnionPay ("Cloud QuickPass") codes are opaque URLs: no amount, no currency,
//! no CRC; only the scheme's back end can resolve the token. Alipay and other URLs are `Unknown`.

use super::decode;
use super::tlv::PAYLOAD_CHARS_MAX;

/// The kind of a scanned payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PayloadKind {
    /// A KHQR: EMVCo with a Bakong account template (29 or 30) holding `name@bank`. Routed to
    /// Bakong; a UnionPay wallet routes it through UPI when it also carries tag 15.
    Khqr,
    /// Any other EMVCo MPM payload with a sound structure and CRC (UnionPay MPM with tag 15, and
    /// other schemes' codes).
    Emvco,
    /// A mainland UnionPay URL code, `https://qr.95516.com/…`.
    UnionpayUrl,
    /// A WeChat Pay merchant code: `wxp://…`, `weixin://wxpay/…`, `https://payapp.weixin.qq.com/…`,
    /// `https://wx.tenpay.com/…` or `https://action.weixin.qq.com/…`.
    WechatUrl,
    /// Nothing we can route: a broken EMVCo payload, another scheme's URL, or text.
    Unknown,
}

impl PayloadKind {
    /// The name used in JSON output: `khqr`, `emvco`, `unionpay_url`, `wechat_url`, `unknown`.
    pub fn name(self) -> &'static str {
        match self {
            PayloadKind::Khqr => "khqr",
            PayloadKind::Emvco => "emvco",
            PayloadKind::UnionpayUrl => "unionpay_url",
            PayloadKind::WechatUrl => "wechat_url",
            PayloadKind::Unknown => "unknown",
        }
    }
}

/// Prefixes of WeChat Pay payment URLs (the WeChat scanner's own list of pay-URL prefixes).
const WECHAT_PREFIXES: [&str; 5] = [
    "wxp://",
    "weixin://wxpay/",
    "https://payapp.weixin.qq.com/",
    "https://wx.tenpay.com/",
    "https://action.weixin.qq.com/",
];

/// Prefixes of mainland UnionPay QR URLs.
const UNIONPAY_PREFIXES: [&str; 2] = ["https://qr.95516.com/", "http://qr.95516.com/"];

/// Says which kind of code `payload` is. EMVCo payloads are fully decoded (structure and CRC), so
/// a corrupted code is `Unknown`, never routed.
pub fn classify(payload: &str) -> PayloadKind {
    classify_decoded(payload).0
}

/// As [`classify`], and the decoded payload of an EMVCo code, so that a caller that goes on to
/// verify it (a payer's app) decodes it once.
pub fn classify_decoded(payload: &str) -> (PayloadKind, Option<decode::Decoded<'_>>) {
    if let Some(kind) = url_kind(payload) {
        return (kind, None);
    }
    match decode::decode(payload) {
        Ok(decoded) if decoded.is_khqr() => (PayloadKind::Khqr, Some(decoded)),
        Ok(decoded) => (PayloadKind::Emvco, Some(decoded)),
        Err(_) => (PayloadKind::Unknown, None),
    }
}

/// The kind of a URL code, if `payload` is one we route: a known prefix (scheme and host compared
/// without regard to case) followed by a non-empty token of printable ASCII.
pub fn url_kind(payload: &str) -> Option<PayloadKind> {
    let has_prefix = |prefix: &str| {
        payload.len() > prefix.len()
            && payload.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    };
    // The prefixes first: they settle an EMVCo payload (`000201…`) in a few comparisons, where
    // the token check below would read all of it.
    let kind = if WECHAT_PREFIXES.iter().any(|p| has_prefix(p)) {
        PayloadKind::WechatUrl
    } else if UNIONPAY_PREFIXES.iter().any(|p| has_prefix(p)) {
        PayloadKind::UnionpayUrl
    } else {
        return None;
    };
    let token_ok =
        payload.len() <= PAYLOAD_CHARS_MAX && payload.bytes().all(|b| b.is_ascii_graphic());
    token_ok.then_some(kind)
}
