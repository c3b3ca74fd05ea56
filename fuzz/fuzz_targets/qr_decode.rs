//! Fuzz target: any bytes either decode or give a located error; whatever decodes re-serialises
//! its TLV tree, and a decoded payload's fields lie inside it at their stated offsets.
#![no_main]

use bakong_sim::payments::qr::{self, tlv};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = tlv::check_utf8(data) else { return };
    let kind = qr::classify(payload);
    match qr::decode(payload) {
        Ok(d) => {
            assert!(matches!(kind, qr::PayloadKind::Khqr | qr::PayloadKind::Emvco));
            let chars: Vec<char> = payload.chars().collect();
            for field in d.fields() {
                let value: String = chars[field.value_offset()..field.value_offset() + field.value.chars().count()].iter().collect();
                assert_eq!(value, field.value);
            }
            let tree = serde_json::to_string(&d.tag_tree()).expect("serialises");
            assert!(tree.starts_with('{'));
            assert_eq!(qr::md5_hex(payload).len(), 32);
        }
        Err(e) => {
            assert!(e.offset <= payload.chars().count().max(tlv::PAYLOAD_CHARS_MAX));
            assert!(!e.to_string().is_empty());
        }
    }
});
