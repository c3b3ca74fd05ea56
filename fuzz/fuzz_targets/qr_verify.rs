//! Fuzz target: verification never panics in either mode, at any clock; strict never accepts a
//! payload that does not decode; a payload strict accepts has no structure error in
//! SDK-compatible mode; and a failure always says what and where.
//!
//! The first 8 bytes are the clock; the rest is tried as it is and with a correct CRC appended.
#![no_main]

use bakong_sim::payments::qr::{self, Failure, Mode, tlv};
use libfuzzer_sys::fuzz_target;

fn check(payload: &str, now_ms: u64) {
    let strict = qr::verify(payload, now_ms, Mode::Strict);
    let compat = qr::verify(payload, now_ms, Mode::SdkCompatible);
    if strict.is_ok() {
        assert!(qr::decode(payload).is_ok(), "strict accepted an undecodable payload");
        assert!(!matches!(compat, Err(Failure::Structure(_))));
    }
    for result in [strict, compat] {
        if let Err(failure) = result {
            assert!(!failure.to_string().is_empty());
            assert!(!failure.id().is_empty());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let now_ms = u64::from_le_bytes(data[..8].try_into().expect("8 bytes"));
    let Ok(body) = tlv::check_utf8(&data[8..]) else { return };
    check(body, now_ms);
    let mut payload = format!("{body}6304");
    let crc = tlv::crc16(payload.as_bytes());
    payload.push_str(&format!("{crc:04X}"));
    check(&payload, now_ms);
});
