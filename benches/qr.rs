//! QR core benchmarks: decode, verify, decode + verify, encode and classify, per payload.
//!
//! Run: `cargo bench --bench qr`. Figures and the machine are recorded in benches/README.md.
//! Payloads: G09 (a typical dynamic merchant KHQR, 176 ASCII characters), X01 (the NBC SDK
//! document sample with tag 15 and Khmer text, so the non-ASCII path), and X06 (UnionPay MPM).

use std::hint::black_box;

use bakong_sim::payments::qr::{self, AmountInput, CodeKind, EncodeSpec, Mode};
use criterion::{Criterion, criterion_group, criterion_main};
use rust_decimal::Decimal;

const G09: &str = "00020101021230370011coffee@devb01061234560208Dev Bank520458125303840540510.255802KH5912Coffee Klang6010Phnom Penh62630105#00010211855875758570310Klang BKK10709Counter 20808Latte x2993400131735689600000011317356905000006304C13F";
const X01: &str = "00020101021215311234567812345678ABCDEFGHIJKLMNO29460015john_smith@devb0111855122334550208Dev Bank52041234530311654031005802KH5910John Smith6010PHNOM PENH62670106#123450211855122334550311Coffee Shop0709Cashier_10810Buy coffee64290002km0108ចន ស្មីន0207ភ្នំពេញ993400131745915488053011341013543270006304FD7B";
const X06: &str = "000201010211153125000156250001561024401581200015204581253031565802CN5917XIAO LONG KITCHEN6008SHANGHAI64200002ZH0104小笼厨房0202上海63041F0B";
const NOW: u64 = 1_735_689_600_000;

fn g09_spec() -> EncodeSpec {
    EncodeSpec {
        kind: CodeKind::Merchant,
        account_id: Some("coffee@devb".into()),
        merchant_name: Some("Coffee Klang".into()),
        merchant_city: Some("Phnom Penh".into()),
        merchant_id: Some("123456".into()),
        acquiring_bank: Some("Dev Bank".into()),
        currency_numeric: Some(840),
        amount: Some(AmountInput::Number(Decimal::new(1025, 2))),
        mcc: Some("5812".into()),
        bill_number: Some("#0001".into()),
        mobile_number: Some("85587575857".into()),
        store_label: Some("Klang BKK1".into()),
        terminal_label: Some("Counter 2".into()),
        purpose: Some("Latte x2".into()),
        created_at_ms: Some(NOW),
        expires_at_ms: Some(NOW + 900_000),
        ..EncodeSpec::default()
    }
}

fn bench(c: &mut Criterion) {
    assert_eq!(qr::encode(&g09_spec()).as_deref(), Ok(G09), "the benchmark encodes G09");
    for (name, payload) in [("g09", G09), ("x01_khmer", X01), ("x06_unionpay", X06)] {
        let mut group = c.benchmark_group(name);
        group.bench_function("decode", |b| {
            b.iter(|| qr::decode(black_box(payload)).map(|d| d.fields().len()))
        });
        group.bench_function("decode_verify_strict", |b| {
            b.iter(|| qr::decode(black_box(payload)).map(|d| d.verify(NOW, Mode::Strict).is_ok()))
        });
        group.bench_function("verify_sdk_compatible", |b| {
            b.iter(|| qr::verify(black_box(payload), NOW, Mode::SdkCompatible).is_ok())
        });
        group.bench_function("classify", |b| b.iter(|| qr::classify(black_box(payload))));
        group.bench_function("md5", |b| b.iter(|| qr::md5_hex(black_box(payload))));
        group.finish();
    }
    let spec = g09_spec();
    c.bench_function("g09/encode", |b| b.iter(|| qr::encode(black_box(&spec))));
}

criterion_group!(benches, bench);
criterion_main!(benches);
