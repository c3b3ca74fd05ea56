//! Ledger benchmark: single-thread two-phase transfers over 100 000 accounts.
//!
//! Run: `cargo bench --bench ledger`. Each iteration executes 1 000 000 pending transfers, each
//! posted at once (2 000 000 commands), between random funded wallets, on a fresh ledger with
//! room reserved and touched (and once more cold, with nothing reserved). Throughput is reported per transfer (a pending and its post). Before the timed
//! runs it prints the memory per account and per transfer. Figures are in benches/README.md.

use std::hint::black_box;

use bakong_sim::payments::ledger::{
    AccountId, AccountKey, Command, Ledger, LedgerLimits, Limits, Purpose, Transfer, TransferId,
};
use bakong_sim::payments::money::{Currency, Money};
use bakong_sim::payments::party::ParticipantId;
use bakong_sim::payments::time::{Span, Timestamp};
use bakong_sim::sim::rng::Prng;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const ACCOUNTS: u32 = 100_000;
const TRANSFERS: u64 = 1_000_000;

/// A ledger with one external account and `ACCOUNTS` funded wallets; with `reserve`, room for
/// the run is reserved and touched first, as a long-running switch does at start-up.
fn funded_ledger_with(reserve: bool) -> Ledger {
    let mut ledger = Ledger::new(LedgerLimits::default());
    if reserve {
        ledger.reserve(
            ACCOUNTS as usize + 1,
            2 * TRANSFERS as usize + ACCOUNTS as usize,
            TRANSFERS as usize,
        );
    }
    let key = |purpose, holder| AccountKey {
        participant: ParticipantId(1),
        currency: Currency::Khr,
        purpose,
        holder,
    };
    let external = ledger.open_account(key(Purpose::External, 0), Limits::NONE).expect("opens");
    for holder in 0..ACCOUNTS {
        ledger
            .open_account(key(Purpose::CustomerFunds, holder), Limits::NON_NEGATIVE)
            .expect("opens");
    }
    for holder in 0..ACCOUNTS {
        let funding = Money::new(Currency::Khr, 10_000_000);
        let t = Transfer::posted(
            TransferId(u64::from(holder) + 1),
            external,
            AccountId(holder + 1),
            funding,
            0,
        );
        ledger.execute(Command::Transfer(t), Timestamp::EPOCH).expect("funds");
    }
    ledger
}

fn funded_ledger() -> Ledger {
    funded_ledger_with(true)
}

fn run_transfers(ledger: &mut Ledger) -> u64 {
    let now = Timestamp::from_millis(1_771_200_000_000);
    let until = now.checked_add(Span::from_secs(60)).expect("in range");
    let mut pairs = Prng::stream(42, 0); // A fixed sequence of wallet pairs.
    let mut posted = 0;
    for i in 0..TRANSFERS {
        let r = pairs.next_u64();
        let debit = (r % u64::from(ACCOUNTS)) as u32 + 1;
        let credit = ((r >> 32) % u64::from(ACCOUNTS - 1)) as u32 + 1;
        let credit = if credit >= debit { credit + 1 } else { credit };
        let credit = if credit > ACCOUNTS { 1 } else { credit };
        let id = u64::from(ACCOUNTS) + 1 + 2 * i; // Dense after the funding ids, as the simulator issues them.
        let hold = Transfer {
            id: TransferId(id),
            debit: AccountId(debit),
            credit: AccountId(credit),
            amount: 1 + r % 100,
            currency: Currency::Khr,
            pending_until: Some(until),
            reference: i,
        };
        if ledger.execute(Command::Transfer(hold), now).is_ok()
            && ledger
                .execute(
                    Command::Post { id: TransferId(id + 1), pending: TransferId(id), amount: None },
                    now,
                )
                .is_ok()
        {
            posted += 1;
        }
    }
    posted
}

fn statm_resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn report_memory() {
    let before = statm_resident_bytes();
    let mut ledger = Ledger::new(LedgerLimits::default());
    let key = |holder| AccountKey {
        participant: ParticipantId(1),
        currency: Currency::Khr,
        purpose: Purpose::CustomerFunds,
        holder,
    };
    for holder in 0..ACCOUNTS {
        ledger.open_account(key(holder), Limits::NON_NEGATIVE).expect("opens");
    }
    let after = statm_resident_bytes();
    let estimated = ledger.memory_bytes() as f64 / f64::from(ACCOUNTS);
    let measured = match (before, after) {
        (Some(b), Some(a)) => format!("{:.0}", a.saturating_sub(b) as f64 / f64::from(ACCOUNTS)),
        _ => "n/a".to_owned(),
    };
    println!(
        "memory per account: {estimated:.0} bytes estimated from capacities, {measured} bytes by resident set"
    );
    let mut ledger = funded_ledger();
    assert_eq!(run_transfers(&mut ledger), TRANSFERS);
    ledger.check_invariants().expect("invariants hold after the run");
    println!(
        "after the run: {} accounts and {} records hold {:.0} MiB (accounts, log, id index, expiry heap)",
        ledger.accounts().len(),
        ledger.records_count(),
        ledger.memory_bytes() as f64 / f64::from(1 << 20)
    );
}

fn bench(c: &mut Criterion) {
    report_memory();
    let mut group = c.benchmark_group("ledger");
    group.sample_size(10);
    group.throughput(Throughput::Elements(TRANSFERS));
    group.bench_function("pending_post_1m_over_100k_accounts", |b| {
        b.iter_batched(
            funded_ledger,
            |mut ledger| black_box(run_transfers(&mut ledger)),
            BatchSize::PerIteration,
        )
    });
    // Cold: nothing reserved, so the log and index grow and first-touch page faults are paid
    // inside the timed run.
    group.bench_function("pending_post_1m_over_100k_accounts_cold", |b| {
        b.iter_batched(
            || funded_ledger_with(false),
            |mut ledger| black_box(run_transfers(&mut ledger)),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
