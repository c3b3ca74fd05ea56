//! Reconciliation: match two parties' clearing files for one business day, classify every
//! disagreement (a break), and resolve each through the ledger.
//!
//! The two sides are "ours" (the switch) and "theirs" (the network, e.g. UPI). Records match on
//! (RRN, message kind). Both files are sorted and merged, so the work is O(n log n) and the
//! result does not depend on the order of the files. The classes, checked in this order:
//!
//! 1. **Duplicate**: a (RRN, kind) that occurs more than once in one file; each extra is a break.
//! 2. **Reversal without original**: a reversal or refund whose original purchase is in neither
//!    file (nor in the network's next-day file).
//! 3. For a record in both files: **currency mismatch** (the two sides name different
//!    transaction currencies: two breaks, one per side, both to the manual queue, never a
//!    rounding adjustment), else **timeout but approved** (ours timed out, theirs approved),
//!    else **status mismatch** (when one side approved), else **amount mismatch** (in the
//!    transaction currency; a difference within the rounding tolerance is FX rounding).
//! 4. Ours only: **late presentment** when the network presents it in the next day's file,
//!    else **missing at the network** (when ours approved it).
//! 5. Theirs only: **missing at the switch** (when theirs approved it).
//!
//! Resolution rule: the switch books an approved purchase as a debit of its receivable from the
//! network and a credit of the payee (a reversal or refund the other way round). Each break's
//! posting moves that receivable by exactly the disagreement, so after resolution the switch's
//! receivable equals what the network's file claims, and the difference is visible in suspense,
//! reversed from the payee, or credited to the payee.

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::fmt;

use super::clearing::{ClearingRecord, MessageKind, Rrn, Status};
use super::csv_text::CsvText;
use super::ledger::{AccountId, Command, Transfer, TransferId};
use super::money::{Currency, Money};

/// The classes of break.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BreakClass {
    /// In our file, approved, and not in the network's (today's or tomorrow's).
    MissingAtNetwork,
    /// In the network's file, approved, and not in ours.
    MissingAtSwitch,
    /// A repeated (RRN, kind) in one file.
    Duplicate,
    /// Both have it; the transaction amounts differ.
    AmountMismatch,
    /// Ours for today, the network's next-day file: presented after the cut-off.
    LatePresentment,
    /// Ours timed out; the network approved.
    TimeoutButApproved,
    /// A reversal or refund whose original purchase nobody has.
    ReversalWithoutOriginal,
    /// Both have it with different outcomes.
    StatusMismatch,
    /// Both have it in different transaction currencies.
    CurrencyMismatch,
}

impl BreakClass {
    /// Every class, in report order.
    pub const ALL: [BreakClass; 9] = [
        BreakClass::MissingAtNetwork,
        BreakClass::MissingAtSwitch,
        BreakClass::Duplicate,
        BreakClass::AmountMismatch,
        BreakClass::LatePresentment,
        BreakClass::TimeoutButApproved,
        BreakClass::ReversalWithoutOriginal,
        BreakClass::StatusMismatch,
        BreakClass::CurrencyMismatch,
    ];

    /// The name in files and reports.
    pub fn name(self) -> &'static str {
        match self {
            BreakClass::MissingAtNetwork => "missing_at_network",
            BreakClass::MissingAtSwitch => "missing_at_switch",
            BreakClass::Duplicate => "duplicate",
            BreakClass::AmountMismatch => "amount_mismatch",
            BreakClass::LatePresentment => "late_presentment",
            BreakClass::TimeoutButApproved => "timeout_but_approved",
            BreakClass::ReversalWithoutOriginal => "reversal_without_original",
            BreakClass::StatusMismatch => "status_mismatch",
            BreakClass::CurrencyMismatch => "currency_mismatch",
        }
    }
}

/// What is done about a break.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resolution {
    /// Undo our booking: the payee gives back what the network will not pay.
    Reversal,
    /// The network collected from the payer for something we never booked: hold it for refund.
    Refund,
    /// A known, bounded correction (rounding, a late presentment carried to tomorrow, an
    /// approval honoured after our timeout).
    Adjustment,
    /// Parked in suspense for a person to investigate.
    ManualQueue,
}

impl Resolution {
    /// Every resolution, in report order.
    pub const ALL: [Resolution; 4] =
        [Resolution::Reversal, Resolution::Refund, Resolution::Adjustment, Resolution::ManualQueue];

    /// The name in files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Resolution::Reversal => "reversal",
            Resolution::Refund => "refund",
            Resolution::Adjustment => "adjustment",
            Resolution::ManualQueue => "manual_queue",
        }
    }
}

/// Which file a break's record is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// The switch's file.
    Ours,
    /// The network's file.
    Theirs,
}

/// One break.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Break {
    /// Its class.
    pub class: BreakClass,
    /// The shared key.
    pub rrn: Rrn,
    /// The message kind.
    pub kind: MessageKind,
    /// Where the record (or the extra one) is, for one-sided classes.
    pub side: Side,
    /// Our record, if any.
    pub ours: Option<ClearingRecord>,
    /// Theirs, if any.
    pub theirs: Option<ClearingRecord>,
    /// How much the switch's receivable from the network must move (theirs − ours).
    pub receivable_change: Money,
    /// What is done about it.
    pub resolution: Resolution,
}

/// Reconciliation settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReconConfig {
    /// The largest amount difference, in minor units of the transaction currency, that counts
    /// as FX rounding (resolved by adjustment) rather than a mismatch to investigate.
    pub rounding_tolerance_minor: i64,
}

impl Default for ReconConfig {
    /// Ten riel: a CNY fen is worth about six riel, so two fen roundings stay inside it.
    fn default() -> Self {
        ReconConfig { rounding_tolerance_minor: 10 }
    }
}

/// What a record contributes to the receivable: + for an approved purchase, − for an approved
/// reversal or refund, 0 otherwise.
fn claim(record: &ClearingRecord) -> i64 {
    match (record.status, record.kind) {
        (Status::Approved, MessageKind::Purchase) => record.amount.minor,
        (Status::Approved, MessageKind::Reversal | MessageKind::Refund) => -record.amount.minor,
        _ => 0,
    }
}

fn key(r: &ClearingRecord) -> (Rrn, MessageKind) {
    (r.rrn, r.kind)
}

/// Sorted by (RRN, kind), then by the order written, so duplicates sit together.
fn sorted(records: &[ClearingRecord]) -> Vec<&ClearingRecord> {
    let mut refs: Vec<&ClearingRecord> = records.iter().collect();
    refs.sort_by_key(|r| key(r)); // Stable: duplicates keep their file order.
    refs
}

/// Reconciles our file with the network's for one business day; `theirs_next` is the network's
/// file for the next business day (for late presentments). Breaks come in (RRN, kind, class)
/// order.
pub fn reconcile(
    ours: &[ClearingRecord],
    theirs: &[ClearingRecord],
    theirs_next: &[ClearingRecord],
    config: ReconConfig,
) -> Vec<Break> {
    let (ours, theirs) = (sorted(ours), sorted(theirs));
    let next: BTreeSet<(Rrn, MessageKind)> = theirs_next.iter().map(key).collect();
    let purchases: BTreeSet<Rrn> = ours
        .iter()
        .chain(&theirs)
        .copied()
        .chain(theirs_next)
        .filter(|r| r.kind == MessageKind::Purchase)
        .map(|r| r.rrn)
        .collect();
    let mut breaks = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < ours.len() || j < theirs.len() {
        let k_ours = ours.get(i).map(|r| key(r));
        let k_theirs = theirs.get(j).map(|r| key(r));
        let k = match (k_ours, k_theirs) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => unreachable!("loop condition"),
        };
        let run = |side: &[&ClearingRecord], at: &mut usize| {
            let start = *at;
            while side.get(*at).is_some_and(|r| key(r) == k) {
                *at += 1;
            }
            start..*at
        };
        let (ours_run, theirs_run) = (run(&ours, &mut i), run(&theirs, &mut j));
        let o = &ours[ours_run];
        let t = &theirs[theirs_run];
        for (records, side) in [(o, Side::Ours), (t, Side::Theirs)] {
            for extra in records.iter().skip(1) {
                breaks.push(duplicate(extra, side));
            }
        }
        classify(o.first().copied(), t.first().copied(), &next, &purchases, config, &mut breaks);
    }
    breaks
}

fn duplicate(extra: &ClearingRecord, side: Side) -> Break {
    // An extra copy claims again: ours must give it back, theirs must be held for refund.
    let change = match side {
        Side::Ours => -claim(extra),
        Side::Theirs => claim(extra),
    };
    let resolution = match side {
        Side::Ours => Resolution::Reversal,
        Side::Theirs => Resolution::Refund,
    };
    Break {
        class: BreakClass::Duplicate,
        rrn: extra.rrn,
        kind: extra.kind,
        side,
        ours: (side == Side::Ours).then(|| extra.clone()),
        theirs: (side == Side::Theirs).then(|| extra.clone()),
        receivable_change: Money::new(extra.amount.currency, change),
        resolution,
    }
}

fn classify(
    ours: Option<&ClearingRecord>,
    theirs: Option<&ClearingRecord>,
    next: &BTreeSet<(Rrn, MessageKind)>,
    purchases: &BTreeSet<Rrn>,
    config: ReconConfig,
    breaks: &mut Vec<Break>,
) {
    let any = ours.or(theirs).expect("one side has the key");
    if let (Some(o), Some(t)) = (ours, theirs)
        && o.amount.currency != t.amount.currency
    {
        // No amount in one currency can settle a disagreement between two: our booking and
        // their claim each go to suspense in their own currency, for a person to look at.
        for (record, side, change) in [(o, Side::Ours, -claim(o)), (t, Side::Theirs, claim(t))] {
            breaks.push(Break {
                class: BreakClass::CurrencyMismatch,
                rrn: record.rrn,
                kind: record.kind,
                side,
                ours: Some(o.clone()),
                theirs: Some(t.clone()),
                receivable_change: Money::new(record.amount.currency, change),
                resolution: Resolution::ManualQueue,
            });
        }
        return;
    }
    let currency = any.amount.currency;
    let change = ours.map_or(0, claim);
    let theirs_claim = theirs.map_or(0, claim);
    let make = |class, side, resolution, delta: i64| Break {
        class,
        rrn: any.rrn,
        kind: any.kind,
        side,
        ours: ours.cloned(),
        theirs: theirs.cloned(),
        receivable_change: Money::new(currency, delta),
        resolution,
    };
    let delta = theirs_claim - change;
    if any.kind != MessageKind::Purchase
        && !any.original_rrn.is_some_and(|o| purchases.contains(&o))
    {
        let side = if ours.is_some() { Side::Ours } else { Side::Theirs };
        breaks.push(make(
            BreakClass::ReversalWithoutOriginal,
            side,
            Resolution::ManualQueue,
            delta,
        ));
        return;
    }
    let class = match (ours, theirs) {
        (Some(o), Some(t)) if o.status == Status::TimedOut && t.status == Status::Approved => {
            Some((BreakClass::TimeoutButApproved, Resolution::Adjustment))
        }
        // Timed out against declined moved no money on either side: not a break.
        (Some(o), Some(t))
            if o.status != t.status
                && (o.status == Status::Approved || t.status == Status::Approved) =>
        {
            Some((BreakClass::StatusMismatch, Resolution::ManualQueue))
        }
        (Some(o), Some(t)) if o.amount != t.amount => {
            let rounding =
                (o.amount.minor - t.amount.minor).abs() <= config.rounding_tolerance_minor;
            Some((
                BreakClass::AmountMismatch,
                if rounding { Resolution::Adjustment } else { Resolution::ManualQueue },
            ))
        }
        (Some(o), None) if next.contains(&key(o)) => {
            Some((BreakClass::LatePresentment, Resolution::Adjustment))
        }
        (Some(o), None) if o.status == Status::Approved => {
            Some((BreakClass::MissingAtNetwork, Resolution::Reversal))
        }
        (None, Some(t)) if t.status == Status::Approved => {
            Some((BreakClass::MissingAtSwitch, Resolution::Refund))
        }
        // Both sides agree, or one side alone holds a record that moved no money.
        _ => None,
    };
    if let Some((class, resolution)) = class {
        let side = if theirs.is_none() {
            Side::Ours
        } else if ours.is_none() {
            Side::Theirs
        } else {
            Side::Ours
        };
        breaks.push(make(class, side, resolution, delta));
    }
}

/// The accounts resolutions post to.
pub trait ReconBooks {
    /// The switch's receivable from the network in a currency.
    fn receivable(&self, currency: Currency) -> Option<AccountId>;
    /// The switch's suspense account in a currency.
    fn suspense(&self, currency: Currency) -> Option<AccountId>;
    /// The account the switch credits for a record's payment (the payee's side).
    fn payee(&self, record: &ClearingRecord) -> Option<AccountId>;
}

/// An account a resolution needs and the books do not have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no {what} account for the {class} break on RRN {rrn}")]
pub struct MissingReconAccount {
    /// Which account.
    pub what: &'static str,
    /// The break's class name.
    pub class: &'static str,
    /// The break's RRN.
    pub rrn: Rrn,
}

/// The ledger command that resolves a break (none when nothing needs to move). Reversals and
/// approvals honoured post between the receivable and the payee; every other resolution between
/// the receivable and suspense. Either way the receivable moves by `receivable_change`.
///
/// # Errors
/// [`MissingReconAccount`].
pub fn resolution_command(
    b: &Break,
    books: &impl ReconBooks,
    id: TransferId,
    reference: u64,
) -> Result<Option<Command>, MissingReconAccount> {
    let change = b.receivable_change;
    if change.minor == 0 {
        return Ok(None);
    }
    let missing = |what| MissingReconAccount { what, class: b.class.name(), rrn: b.rrn };
    let receivable = books.receivable(change.currency).ok_or_else(|| missing("receivable"))?;
    let counterpart = match (b.class, b.resolution) {
        (BreakClass::MissingAtNetwork, _)
        | (BreakClass::TimeoutButApproved, _)
        | (BreakClass::Duplicate, Resolution::Reversal) => {
            let record = b.ours.as_ref().or(b.theirs.as_ref()).expect("a break has a record");
            books.payee(record).ok_or_else(|| missing("payee"))?
        }
        _ => books.suspense(change.currency).ok_or_else(|| missing("suspense"))?,
    };
    // The receivable is debited when it must grow.
    Ok(Transfer::posted_signed(id, receivable, counterpart, change, reference)
        .map(Command::Transfer))
}

/// Counts and amounts per class: the reconciliation summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReconSummary {
    /// Per class, in [`BreakClass::ALL`] order: (count, absolute receivable change per currency).
    pub classes: Vec<(BreakClass, u64, [i128; Currency::ALL.len()])>,
}

impl ReconSummary {
    /// Summarises `breaks`.
    pub fn new(breaks: &[Break]) -> Self {
        let classes = BreakClass::ALL
            .iter()
            .map(|&class| {
                let mut amounts = [0i128; Currency::ALL.len()];
                let mut count = 0;
                for b in breaks.iter().filter(|b| b.class == class) {
                    count += 1;
                    amounts[b.receivable_change.currency.index()] +=
                        i128::from(b.receivable_change.minor).abs();
                }
                (class, count, amounts)
            })
            .collect();
        ReconSummary { classes }
    }

    /// All breaks.
    pub fn breaks_count(&self) -> u64 {
        self.classes.iter().map(|(_, n, _)| n).sum()
    }
}

impl ReconSummary {
    /// `recon-summary.csv`: per class, the count and the absolute receivable change per
    /// currency.
    pub fn to_csv(&self) -> String {
        let mut out = CsvText::new(["class", "count", "khr_minor", "usd_minor", "cny_minor"]);
        for (class, count, amounts) in &self.classes {
            out.row(
                [class.name().to_string(), count.to_string()]
                    .into_iter()
                    .chain(amounts.iter().map(|a| a.to_string())),
            );
        }
        out.finish()
    }
}

impl fmt::Display for ReconSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_csv())
    }
}

/// The columns of `reconciliation.csv`.
pub const BREAK_COLUMNS: [&str; 12] = [
    "class",
    "rrn",
    "kind",
    "side",
    "payment_id",
    "ours_status",
    "theirs_status",
    "ours_amount_minor",
    "theirs_amount_minor",
    "currency",
    "receivable_change_minor",
    "resolution",
];

/// Writes `reconciliation.csv`: one row per break, in the order given.
pub fn write_breaks(breaks: &[Break]) -> String {
    let mut w = CsvText::new(BREAK_COLUMNS);
    let status = |r: &Option<ClearingRecord>| r.as_ref().map_or("", |r| r.status.name());
    for b in breaks {
        let record = b.ours.as_ref().or(b.theirs.as_ref()).expect("a break has a record");
        let row = [
            b.class.name().to_owned(),
            b.rrn.to_string(),
            b.kind.name().to_owned(),
            match b.side {
                Side::Ours => "ours".to_owned(),
                Side::Theirs => "theirs".to_owned(),
            },
            record.payment_id.to_string(),
            status(&b.ours).to_owned(),
            status(&b.theirs).to_owned(),
            b.ours.as_ref().map(|r| r.amount.minor.to_string()).unwrap_or_default(),
            b.theirs.as_ref().map(|r| r.amount.minor.to_string()).unwrap_or_default(),
            b.receivable_change.currency.alpha().to_owned(),
            b.receivable_change.minor.to_string(),
            b.resolution.name().to_owned(),
        ];
        w.row(&row);
    }
    w.finish()
}

/// What the network's file claims from the switch per currency: approved purchases less approved
/// reversals and refunds. After every break is resolved, the switch's receivable equals it.
pub fn network_claim(theirs: &[ClearingRecord]) -> [i128; Currency::ALL.len()] {
    let mut claims = [0i128; Currency::ALL.len()];
    for r in theirs {
        claims[r.amount.currency.index()] += i128::from(claim(r));
    }
    claims
}
