//! Fuzz target: any text either decodes or gives a located error; whatever decodes re-serialises
//! its TLV tree, and its objects lie in the payload at their stated offsets.
//!
//! Each input is tried as it is and with a correct CRC object appended, so that mutations get
//! past the CRC gate and exercise the TLV lexer and the typed lookups.
#![no_main]

use bakong_sim::payments::qr::{self, tlv};
use libfuzzer_sys::fuzz_target;

fn check(payload: &str) {
    let kind = qr::classify(payload);
    match qr::decode(payload) {
        Ok(d) => {
            assert!(matches!(kind, qr::PayloadKind::Khqr | qr::PayloadKind::Emvco));
            let chars: Vec<char> = payload.chars().collect();
            for field in d.fields() {
                let at = field.value_offset();
                let value: String = chars[at..at + field.value.chars().count()].iter().collect();
                assert_eq!(value, field.value);
                for sub in d.subs(field) {
                    assert!(sub.offset >= at && sub.offset < at + field.value.chars().count());
                }
            }
            let _ = (d.account_id(), d.merchant_id(), d.acquiring_bank(), d.upi_account(), d.is_khqr());
            let tree = serde_json::to_string(&d.tag_tree()).expect("serialises");
            assert!(tree.starts_with('{'));
        }
        Err(e) => {
            assert!(e.offset <= payload.chars().count().max(tlv::PAYLOAD_CHARS_MAX));
            assert!(!e.to_string().is_empty());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = tlv::check_utf8(data) else { return };
    check(body);
    let mut payload = format!("{body}6304");
    let crc = tlv::crc16(payload.as_bytes());
    payload.push_str(&format!("{crc:04X}"));
    check(&payload);
});
