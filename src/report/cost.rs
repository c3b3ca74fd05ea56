//! What a payment costs, and in which currency: per flow and pair of currencies, the payers'
//! effective rate against the mid rate, the spread and the merchant discount in basis points and
//! in money, the currency mix of the payers; and each participant's fee and spread income from
//! the ledger. Money is shown exactly (decimal minor units); only ratios are rounded.

use std::fmt::Write as _;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};

use crate::payments::money::{Currency, Money};
use crate::record::{Cost, FlowStats, RunRecord};

/// A cost's figures, derived from its sums.
struct Figures {
    /// Payee's major units per payer's major unit that the payers got, spread included.
    effective_rate: Option<Decimal>,
    /// The same at the mid rate.
    mid_rate: Option<Decimal>,
    /// What the payers paid over the payees' amounts at mid, basis points of the latter.
    cost_vs_mid_bps: f64,
    /// The spread, basis points of what the payers paid.
    spread_bps: f64,
    /// The merchant discount, basis points of what the payees were credited.
    discount_bps: f64,
}

fn bps(part: Decimal, whole: Decimal) -> f64 {
    if whole.is_zero() {
        return 0.0;
    }
    let ratio = part / whole * Decimal::from(10_000);
    ratio.round_dp(2).to_f64().unwrap_or(0.0)
}

/// A rate to seven significant digits (riel per yuan and yuan per riel alike).
fn significant(rate: Decimal) -> Decimal {
    let mut dp = 6;
    let mut x = rate.abs();
    while !x.is_zero() && x < Decimal::ONE && dp < 24 {
        x *= Decimal::TEN;
        dp += 1;
    }
    rate.round_dp(dp).normalize()
}

fn major(minor: Decimal, currency: Currency) -> Decimal {
    minor / Decimal::from(10i64.pow(currency.exponent()))
}

fn figures(c: &Cost) -> Figures {
    let paid = Decimal::from(c.paid_minor);
    let at_mid = c.received_at_mid_minor();
    let converted = c.payer_currency != c.payee_currency && c.paid_minor > 0;
    let received_major = major(Decimal::from(c.received_minor), c.payee_currency);
    let rate = |payer_minor: Decimal| {
        let payer_major = major(payer_minor, c.payer_currency);
        (converted && !payer_major.is_zero()).then(|| significant(received_major / payer_major))
    };
    Figures {
        effective_rate: rate(paid),
        mid_rate: rate(at_mid),
        cost_vs_mid_bps: bps(paid - at_mid, at_mid),
        spread_bps: bps(Decimal::from(c.spread_minor), paid),
        discount_bps: bps(Decimal::from(c.fee_minor), Decimal::from(c.received_minor)),
    }
}

/// An amount with its currency, exact: `1234.56 USD`.
fn money(currency: Currency, minor: i64) -> String {
    format!("{} {}", Money::new(currency, minor).to_decimal(), currency.alpha())
}

/// A flow's costs in a fixed order: by payer's currency, then payee's.
fn sorted(s: &FlowStats) -> Vec<&Cost> {
    let mut costs: Vec<&Cost> = s.costs.iter().collect();
    costs.sort_by_key(|c| (c.payer_currency.index(), c.payee_currency.index()));
    costs
}

/// `summary.md`'s section on what payments cost and who earned what.
pub(super) fn md_costs(out: &mut String, record: &RunRecord) {
    let _ = writeln!(
        out,
        "\n## What a payment costs\n\nApproved payments (on time or late), per flow and pair of \
         currencies, from each payment's booked amounts. *Effective rate*: the payee's currency \
         per unit of the payer's that the payers got, spread included; *mid*: the same at the \
         mid rate in force at each payment's confirm. *Cost vs mid*: what the payers paid over \
         the payees' amounts at mid, in basis points of the latter (the scheme's rate and the \
         spread together). *Spread*: the payer's provider's FX income, in basis points of what \
         was paid. *Merchant discount*: the payee's bank's fee, in basis points of what the payee \
         was credited.\n\n| flow | payer → payee | payments | share of the flow | paid | \
         effective rate | mid | cost vs mid, bps | spread | spread, bps | merchant discount | \
         discount, bps |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for s in &record.flows {
        let approved: u64 = s.costs.iter().map(|c| c.payments_count).sum();
        for c in sorted(s) {
            let f = figures(c);
            let rate = |r: Option<Decimal>| r.map_or_else(|| "—".to_owned(), |r| r.to_string());
            let _ = writeln!(
                out,
                "| {} | {} → {} | {} | {:.1} % | {} | {} | {} | {:.1} | {} | {:.1} | {} | {:.1} |",
                s.flow.name(),
                c.payer_currency.alpha(),
                c.payee_currency.alpha(),
                c.payments_count,
                c.payments_count as f64 / approved.max(1) as f64 * 100.0,
                money(c.payer_currency, c.paid_minor),
                rate(f.effective_rate),
                rate(f.mid_rate),
                f.cost_vs_mid_bps,
                money(c.payer_currency, c.spread_minor),
                f.spread_bps,
                money(c.payee_currency, c.fee_minor),
                f.discount_bps,
            );
        }
    }
    md_riel(out, record);
    md_income(out, record);
}

/// The currency mix of payers where a flow has more than one: the riel's share.
fn md_riel(out: &mut String, record: &RunRecord) {
    for s in &record.flows {
        let approved: u64 = s.costs.iter().map(|c| c.payments_count).sum();
        let by_payer: Vec<(Currency, u64)> = Currency::ALL
            .iter()
            .map(|&cur| {
                let n =
                    s.costs.iter().filter(|c| c.payer_currency == cur).map(|c| c.payments_count);
                (cur, n.sum())
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        if by_payer.len() < 2 {
            continue;
        }
        let parts: Vec<String> = by_payer
            .iter()
            .map(|(cur, n)| {
                format!("{} {n} ({:.1} %)", cur.alpha(), *n as f64 / approved as f64 * 100.0)
            })
            .collect();
        let _ = writeln!(
            out,
            "\n- {}: payers' accounts by currency, approved payments: {}.",
            s.flow.name(),
            parts.join(", ")
        );
    }
}

/// Each participant's fee and spread income, from the ledger.
fn md_income(out: &mut String, record: &RunRecord) {
    let _ = writeln!(
        out,
        "\nFees and spreads earned, per participant and currency: the balance of its fee income \
         account in the ledger at the end (merchant discounts and FX spreads together).\n"
    );
    if record.income.is_empty() {
        let _ = writeln!(out, "No participant earned fees or spreads.");
        return;
    }
    let _ = writeln!(out, "| participant | earned |\n|---|---:|");
    for i in &record.income {
        let _ = writeln!(out, "| {} | {} |", i.participant, money(i.currency, i.earned_minor));
    }
}

/// `summary.json`'s `costs` of one flow.
pub(super) fn costs_json(s: &FlowStats) -> Value {
    let costs: Vec<Value> = sorted(s)
        .into_iter()
        .map(|c| {
            let f = figures(c);
            json!({
                "payer_currency": c.payer_currency.alpha(),
                "payee_currency": c.payee_currency.alpha(),
                "payments_count": c.payments_count,
                "paid_minor": c.paid_minor,
                "received_minor": c.received_minor,
                "received_at_mid_minor": c.received_at_mid_minor().round_dp(6).to_string(),
                "spread_minor": c.spread_minor,
                "fee_minor": c.fee_minor,
                "effective_rate": f.effective_rate.map(|r| r.to_string()),
                "mid_rate": f.mid_rate.map(|r| r.to_string()),
                "cost_vs_mid_bps": f.cost_vs_mid_bps,
                "spread_bps": f.spread_bps,
                "discount_bps": f.discount_bps,
            })
        })
        .collect();
    Value::Array(costs)
}

/// `summary.json`'s `income`.
pub(super) fn income_json(record: &RunRecord) -> Value {
    record
        .income
        .iter()
        .map(|i| {
            json!({
                "participant": i.participant,
                "currency": i.currency.alpha(),
                "earned_minor": i.earned_minor,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payments::party::Flow;
    use crate::record::PaymentCost;

    /// Adds payments to a fresh flow and checks the one pair's figures.
    fn check(payments: &[PaymentCost], rates: (&str, &str), bps_want: (f64, f64, f64)) {
        let mut s = FlowStats::new(Flow::Inward, &[], 0);
        for &p in payments {
            s.add_cost(p);
        }
        assert_eq!(s.costs.len(), 1, "one pair of currencies");
        let f = figures(&s.costs[0]);
        let show = |r: Option<Decimal>| r.map_or_else(|| "—".to_owned(), |r| r.to_string());
        assert_eq!((show(f.effective_rate).as_str(), show(f.mid_rate).as_str()), rates);
        assert_eq!((f.cost_vs_mid_bps, f.spread_bps, f.discount_bps), bps_want);
    }

    fn pay(paid: i64, received: i64, at_mid: &str, spread: i64, fee: i64) -> PaymentCost {
        PaymentCost {
            paid: Money::new(Currency::Cny, paid),
            received: Money::new(Currency::Khr, received),
            converted_at_mid_minor: Some(at_mid.parse().expect("decimal")),
            spread: Money::new(Currency::Cny, spread),
            fee: Money::new(Currency::Khr, fee),
        }
    }

    #[test]
    fn costs_against_the_mid_rate() {
        // 100.00 CNY buys 58,000 riel; at a mid of 585 the riel were worth 99.145299 CNY.
        check(
            &[pay(10_000, 58_000, "9914.529914529914529914529915", 80, 580)],
            ("580", "585"),
            (86.21, 80.0, 100.0),
        );
        // Two payments sum before the ratios: 150.00 CNY for 87,000 riel, all at mid.
        check(
            &[pay(10_000, 58_000, "10000", 0, 0), pay(5_000, 29_000, "5000", 0, 290)],
            ("580", "580"),
            (0.0, 0.0, 33.33),
        );
    }

    #[test]
    fn a_flow_keeps_each_pair_of_currencies_apart() {
        let mut s = FlowStats::new(Flow::Domestic, &[], 0);
        for (currency, minor) in [(Currency::Khr, 4_000), (Currency::Usd, 150), (Currency::Khr, 1)]
        {
            let m = Money::new(currency, minor);
            let z = Money::zero(currency);
            s.add_cost(PaymentCost {
                paid: m,
                received: m,
                converted_at_mid_minor: None,
                spread: z,
                fee: z,
            });
        }
        let pairs: Vec<_> =
            s.costs.iter().map(|c| (c.payer_currency, c.payments_count, c.paid_minor)).collect();
        assert_eq!(pairs, [(Currency::Khr, 2, 4_001), (Currency::Usd, 1, 150)]);
        let f = figures(&s.costs[0]);
        assert_eq!((f.effective_rate, f.cost_vs_mid_bps), (None, 0.0), "no conversion, no cost");
    }
}
