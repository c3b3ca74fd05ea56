//! The member banks' liquidity at NBC: per bank and currency, its prefunding, how close it came
//! to its cap (the lowest headroom, and when), and the payments declined or held for lack of
//! it; `liquidity.csv` is the minute-by-minute timeline, and the plot draws the tightest banks'
//! headroom over time.

use std::fmt::Write as _;

use crate::payments::csv_text::CsvText;
use crate::payments::money::{Currency, Money};
use crate::record::{BankLiquidity, LiquidityPoint, RunRecord};

/// KHR and USD, the currencies a bank settles in, in record order.
pub const CURRENCIES: [Currency; 2] = [Currency::Khr, Currency::Usd];

/// A bank's lowest headroom in one currency as a share of its cap, and the minute it was seen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tightest {
    /// Headroom over cap, percent (100: nothing owed or reserved).
    pub headroom_pct: f64,
    /// The minute, from the start of the run.
    pub minute: usize,
}

/// The lowest headroom of a bank in currency `k`, when its cap is positive.
pub fn tightest(b: &BankLiquidity, k: usize) -> Option<Tightest> {
    b.minutes[k]
        .iter()
        .enumerate()
        .filter(|(_, p)| p.cap_minor > 0)
        .map(|(m, p)| Tightest {
            headroom_pct: p.headroom_minor() as f64 / p.cap_minor as f64 * 100.0,
            minute: m,
        })
        .min_by(|a, b| a.headroom_pct.total_cmp(&b.headroom_pct).then(a.minute.cmp(&b.minute)))
}

/// Payments declined and held for liquidity, over every bank and currency.
pub fn totals(record: &RunRecord) -> (u64, u64) {
    record.liquidity.iter().fold((0, 0), |(d, h), b| {
        (d + b.short_count.iter().sum::<u64>(), h + b.held_count.iter().sum::<u64>())
    })
}

/// The bank and currency that came closest to its cap.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TightestBank {
    /// The bank's index.
    pub bank: usize,
    /// The currency.
    pub currency: Currency,
    /// How close, and when.
    pub at: Tightest,
}

/// What a capacity review asks of liquidity first.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LiquidityAnswer {
    /// Payments declined for lack of their bank's liquidity.
    pub declined_count: u64,
    /// Payments held at the switch for a later cycle.
    pub held_count: u64,
    /// The bank and currency that came closest to its cap.
    pub tightest: Option<TightestBank>,
}

/// The liquidity answer of a run.
pub fn answer(record: &RunRecord) -> LiquidityAnswer {
    let (declined_count, held_count) = totals(record);
    let tightest = record
        .liquidity
        .iter()
        .flat_map(|b| {
            (0..2).filter_map(move |k| {
                tightest(b, k).map(|at| TightestBank { bank: b.bank, currency: CURRENCIES[k], at })
            })
        })
        .min_by(|a, b| a.at.headroom_pct.total_cmp(&b.at.headroom_pct).then(a.bank.cmp(&b.bank)));
    LiquidityAnswer { declined_count, held_count, tightest }
}

fn major(minor: i64, c: Currency) -> String {
    Money::new(c, minor).to_decimal().to_string()
}

/// `summary.md`'s section on liquidity.
pub(super) fn md_liquidity(out: &mut String, record: &RunRecord) {
    if record.liquidity.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n## Liquidity at NBC\n\nEach member bank may owe, within a netting cycle, up to its cap \
         (its settlement balance at the cycle's start times `debit_cap_pct`); the Bakong switch \
         reserves each payment that will make it owe, and declines or holds one that does not \
         fit. Lowest headroom: what was left under the cap at its tightest minute, percent of \
         the cap. `liquidity.csv` is the timeline.\n\n| bank | prefund KHR | lowest headroom \
         KHR | prefund USD | lowest headroom USD | declined | held | still held at the end | \
         topped up KHR | topped up USD |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for b in &record.liquidity {
        let low = |k: usize| {
            tightest(b, k).map_or_else(
                || "–".into(),
                |t| format!("{:.1} % (minute {})", t.headroom_pct, t.minute),
            )
        };
        let _ = writeln!(
            out,
            "| kh_bank[{}] | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            b.bank,
            major(b.prefund_minor[0], Currency::Khr),
            low(0),
            major(b.prefund_minor[1], Currency::Usd),
            low(1),
            b.short_count.iter().sum::<u64>(),
            b.held_count.iter().sum::<u64>(),
            b.still_held_count.iter().sum::<u64>(),
            major(b.topped_up_minor[0], Currency::Khr),
            major(b.topped_up_minor[1], Currency::Usd),
        );
    }
}

/// `liquidity.csv`: per bank, currency and simulated minute at whose end something changed
/// (the first minute always): the cap, the net debit, the reservations and the headroom, in
/// minor units.
pub fn liquidity_csv(record: &RunRecord) -> String {
    let mut out = CsvText::new([
        "minute",
        "bank",
        "currency",
        "cap_minor",
        "position_minor",
        "reserved_minor",
        "headroom_minor",
    ]);
    for b in &record.liquidity {
        for (k, c) in CURRENCIES.into_iter().enumerate() {
            let mut before: Option<LiquidityPoint> = None;
            for (m, p) in b.minutes[k].iter().enumerate() {
                if before == Some(*p) {
                    continue;
                }
                before = Some(*p);
                out.row([
                    m.to_string(),
                    format!("kh_bank[{}]", b.bank),
                    c.alpha().to_string(),
                    p.cap_minor.to_string(),
                    p.position_minor.to_string(),
                    p.reserved_minor.to_string(),
                    p.headroom_minor().to_string(),
                ]);
            }
        }
    }
    out.finish()
}
