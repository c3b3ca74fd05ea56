//! Fuzz target: any text either parses as a scenario or gives an error whose line and column
//! lie inside the text; never a panic. Seeds are the shipped scenarios, so mutations stay close
//! to real files (typos, cut lines, wrong types, impossible values).
#![no_main]

use bakong_sim::scenario;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = scenario::parse_file(text) {
        let lines = text.split('\n').count();
        assert!(e.line >= 1 && e.line <= lines.max(1), "line {} of {lines}", e.line);
        assert!(e.column >= 1);
        assert!(!e.message.is_empty());
    }
});
