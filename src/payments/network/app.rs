//! The payer's app: what it makes of a scanned code before anything is sent. It classifies
//! the payload, decodes and strictly verifies it with the QR core, and refuses what its flow
//! cannot pay: a UnionPay wallet pays KHQR codes that carry a UnionPay account (tag 15), a
//! Bakong app in China pays WeChat Pay and UnionPay codes, a Bakong app at home pays KHQR.

use super::outcome::Decline;
use crate::payments::party::Flow;
use crate::payments::qr::{self, Mode, PayloadKind};

/// `None` when the app goes ahead with `payload`, or the decline it shows the payer. A
/// remittance scans nothing.
pub fn scan(flow: Flow, payload: &str, now_ms: u64) -> Option<Decline> {
    if flow == Flow::Remittance {
        return None;
    }
    // One decode serves the classification, the verification and the UnionPay check.
    let (kind, decoded) = qr::classify_decoded(payload);
    let accepted = match flow {
        Flow::Inward | Flow::Domestic => kind == PayloadKind::Khqr,
        Flow::Outward => matches!(kind, PayloadKind::WechatUrl | PayloadKind::Emvco),
        Flow::Remittance => true,
    };
    if !accepted {
        return Some(Decline::MalformedQr);
    }
    let decoded = decoded?;
    match decoded.verify(now_ms, Mode::Strict) {
        Ok(()) => {}
        Err(v) if v.rule.sdk_code() == Some(qr::ErrorCode::KhqrExpired) => {
            return Some(Decline::ExpiredQr);
        }
        Err(_) => return Some(Decline::MalformedQr),
    }
    if flow == Flow::Inward && decoded.upi_account().is_none() {
        return Some(Decline::MalformedQr);
    }
    None
}
