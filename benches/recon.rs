//! Reconciliation benchmark: one business day of 1 000 000 payments per party.
//!
//! Run: `cargo bench --bench recon`. Builds the switch's and the network's clearing records for a
//! day (one break in a thousand, of every class), then times, with criterion, `reconcile` on the
//! parsed records; before that it runs the whole file path once — write both files, read them
//! back, reconcile — and prints each step's wall time and the process's peak resident memory.

// Benchmarks time the wall clock; the ban on it is for payments and sim.
#![allow(clippy::disallowed_methods)]

use std::hint::black_box;
use std::time::Instant;

use bakong_sim::payments::clearing::{
    ClearingRecord, MessageKind, Party, Rrn, Status, read_clearing_file, write_clearing_file,
};
use bakong_sim::payments::money::{Currency, Money};
use bakong_sim::payments::recon::{ReconConfig, reconcile};
use bakong_sim::payments::time::{Date, Timestamp};
use criterion::{Criterion, criterion_group, criterion_main};
use rust_decimal::Decimal;

const PAYMENTS: u64 = 1_000_000;

fn record(party: Party, i: u64) -> ClearingRecord {
    let amount = 4_000 + (i * 7_919) % 400_000;
    ClearingRecord {
        party,
        business_date: Date::new(2026, 2, 16).expect("date"),
        kind: MessageKind::Purchase,
        rrn: Rrn::new(600_000_000_000 + (i * 7_777_777) % 1_000_000_000).expect("rrn"),
        trace_number: (i % 1_000_000) as u32,
        original_rrn: None,
        payment_id: i,
        transfer_id: 3 * i,
        quote_id: i,
        qr_md5: format!("{:032x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        amount: Money::new(Currency::Khr, amount as i64),
        billed: Money::new(Currency::Cny, (amount / 6) as i64),
        fx_rate: Decimal::new(1_725_639_752, 12),
        fee: Money::new(Currency::Khr, (amount / 100) as i64),
        status: Status::Approved,
        at: Timestamp::from_nanos(1_771_200_000_000_000_000 + i * 86_400_000),
    }
}

/// Both files' records; one payment in a thousand is broken, cycling through the classes.
fn day() -> (Vec<ClearingRecord>, Vec<ClearingRecord>) {
    let mut ours = Vec::with_capacity(PAYMENTS as usize + 1_000);
    let mut theirs = Vec::with_capacity(PAYMENTS as usize + 1_000);
    for i in 0..PAYMENTS {
        let (o, t) = (record(Party::Switch, i), record(Party::Upi, i));
        match (i % 1_000 == 0).then_some(i / 1_000 % 5) {
            Some(0) => ours.push(o),
            Some(1) => theirs.push(t),
            Some(2) => {
                ours.push(o);
                theirs.push(ClearingRecord {
                    amount: Money::new(Currency::Khr, t.amount.minor + 3),
                    ..t
                });
            }
            Some(3) => {
                ours.push(ClearingRecord { status: Status::TimedOut, ..o });
                theirs.push(t);
            }
            Some(_) => {
                ours.push(o.clone());
                ours.push(o);
                theirs.push(t);
            }
            None => {
                ours.push(o);
                theirs.push(t);
            }
        }
    }
    (ours, theirs)
}

fn peak_resident_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The production path once: files written, read back one at a time, reconciled.
fn file_path_once() {
    let (ours, theirs) = day();
    let start = Instant::now();
    let ours_text = write_clearing_file(&ours);
    let theirs_text = write_clearing_file(&theirs);
    let written = start.elapsed();
    let sizes = (ours_text.len() >> 20, theirs_text.len() >> 20);
    drop((ours, theirs));
    let start = Instant::now();
    let ours = read_clearing_file(&ours_text).expect("reads");
    drop(ours_text);
    let theirs = read_clearing_file(&theirs_text).expect("reads");
    drop(theirs_text);
    let read = start.elapsed();
    let start = Instant::now();
    let breaks = reconcile(&ours, &theirs, &[], ReconConfig::default());
    let reconciled = start.elapsed();
    println!(
        "file path: wrote {} + {} MiB in {written:.2?}, read {} + {} records in {read:.2?}, reconciled in {reconciled:.2?}: {} breaks",
        sizes.0,
        sizes.1,
        ours.len(),
        theirs.len(),
        breaks.len()
    );
    assert_eq!(breaks.len(), 1_000);
    match peak_resident_mib() {
        Some(mib) => println!("peak resident memory so far: {mib:.0} MiB"),
        None => println!("peak resident memory: n/a"),
    }
}

fn bench(c: &mut Criterion) {
    file_path_once();
    let (ours, theirs) = day();
    let mut group = c.benchmark_group("recon");
    group.sample_size(10);
    group.bench_function("reconcile_1m_payments_per_party", |b| {
        b.iter(|| black_box(reconcile(&ours, &theirs, &[], ReconConfig::default()).len()))
    });
    group.finish();
    if let Some(mib) = peak_resident_mib() {
        println!("peak resident memory of the whole benchmark: {mib:.0} MiB");
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
