//! The QR core's work per payload, for instruction counts: decodes (and verifies) one of the
//! benchmark payloads N times. `benches/qr-instructions.sh` runs it under callgrind at N = 0
//! and N = 10,000 and divides the difference, which repeats to the instruction where wall time
//! on a shared machine does not.
//!
//! Usage: `qr_instructions <decode|decode_verify> <count> [g09|x01|x06]`

use std::hint::black_box;

use bakong_sim::payments::qr::{self, Mode};

const G09: &str = "00020101021230370011coffee@devb01061234560208Dev Bank520458125303840540510.255802KH5912Coffee Klang6010Phnom Penh62630105#00010211855875758570310Klang BKK10709Counter 20808Latte x2993400131735689600000011317356905000006304C13F";
const X01: &str = "00020101021215311234567812345678ABCDEFGHIJKLMNO29460015john_smith@devb0111855122334550208Dev Bank52041234530311654031005802KH5910John Smith6010PHNOM PENH62670106#123450211855122334550311Coffee Shop0709Cashier_10810Buy coffee64290002km0108ចន ស្មីន0207ភ្នំពេញ993400131745915488053011341013543270006304FD7B";
const X06: &str = "000201010211153125000156250001561024401581200015204581253031565802CN5917XIAO LONG KITCHEN6008SHANGHAI64200002ZH0104小笼厨房0202上海63041F0B";
/// The clock of the benchmark (2025-01-01), before every payload's expiry.
const NOW: u64 = 1_735_689_600_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: qr_instructions <decode|decode_verify> <count> [g09|x01|x06]";
    let (Some(what), Some(count)) = (args.first(), args.get(1).and_then(|n| n.parse().ok())) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let payload = match args.get(2).map(String::as_str) {
        None | Some("g09") => G09,
        Some("x01") => X01,
        Some("x06") => X06,
        Some(other) => {
            eprintln!("unknown payload {other}; {usage}");
            std::process::exit(2);
        }
    };
    let verify = match what.as_str() {
        "decode" => false,
        "decode_verify" => true,
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let mut accepted = 0_usize;
    for _ in 0..count {
        let decoded = qr::decode(black_box(payload));
        let ok = match decoded {
            Ok(d) if verify => d.verify(NOW, Mode::Strict).is_ok(),
            Ok(d) => !d.payload().is_empty(),
            Err(_) => false,
        };
        accepted += usize::from(ok);
    }
    println!("{accepted} of {count} accepted");
}
