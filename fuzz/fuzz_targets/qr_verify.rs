//! Fuzz target: verification never panics in either mode, at any clock; strict never accepts a
//! payload that does not decode; and a payload that strict accepts is one the SDK-compatible mode
//! judges without a structure error.
#![no_main]

use bakong_sim::payments::qr::{self, Failure, Mode, tlv};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let now_ms = u64::from_le_bytes(data[..8].try_into().expect("8 bytes"));
    let Ok(payload) = tlv::check_utf8(&data[8..]) else { return };
    let strict = qr::verify(payload, now_ms, Mode::Strict);
    let compat = qr::verify(payload, now_ms, Mode::SdkCompatible);
    if strict.is_ok() {
        assert!(qr::decode(payload).is_ok(), "strict accepted an undecodable payload");
        assert!(!matches!(compat, Err(Failure::Structure(_))));
    }
    for result in [strict, compat] {
        if let Err(failure) = result {
            assert!(!failure.to_string().is_empty());
            let _ = failure.sdk_code();
        }
    }
});
