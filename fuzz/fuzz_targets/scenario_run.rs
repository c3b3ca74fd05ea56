//! Fuzz target: any text is refused with a located error, refused as too big for memory, or
//! runs to a whole report (rendered in memory); never a panic. Runs are capped by
//! `testkit::Bounds` (events, memory), so every input costs milliseconds. Seeds are the tiny
//! and small test scenarios and the shipped ones, so mutations stay close to real files.
#![no_main]

use bakong_sim::testkit::{Bounds, exercise};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let bounds = Bounds { events_max: 50_000, memory_mb_max: 128 };
    if let Err(broken) = exercise(text, 1, bounds) {
        panic!("{broken}");
    }
});
