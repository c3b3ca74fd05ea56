//! The durable journal of `sim serve`: SQLite (bundled), WAL, `synchronous=FULL`, written by one
//! thread in group commits.
//!
//! What is journaled, and when:
//! * `accepted`: a payer's request, before anything is sent (its idempotency key is unique);
//! * `booked`: each ledger transfer the switch makes, before it answers "approved";
//! * `reversal`: a reversal intent, before the advice is sent; `reversal_acked` when answered;
//! * `final`: the payment's outcome; `acknowledged` when the answer that reports it may go out.
//!
//! A caller hands [`Writer::submit`] a batch of entries and a callback; the writer thread takes
//! every batch waiting (up to [`GROUP_ENTRIES_MAX`] entries), commits them in one transaction
//! (one fsync), then calls each callback. Nothing is reported to a payer before the callback
//! of the batch that makes it true has run.
//!
//! [`check`] reads a journal back and says whether it is consistent; [`Recovered`] is what a
//! restarted server needs.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::payments::ledger::{
    AccountId, AccountKey, Command, Ledger, LedgerLimits, Limits, Purpose, Transfer, TransferId,
};
use crate::payments::money::{Currency, Money};
use crate::payments::party::{Flow, ParticipantId};
use crate::payments::time::Timestamp;

/// The most entries one commit takes.
pub const GROUP_ENTRIES_MAX: usize = 4096;

/// Batches waiting for the writer before submitters wait their turn.
pub const QUEUE_BATCHES_MAX: usize = 65_536;

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS payments (
    id INTEGER PRIMARY KEY,
    idempotency_key TEXT NOT NULL,
    originator TEXT NOT NULL,
    originator_participant INTEGER NOT NULL,
    request_sha256 TEXT NOT NULL,
    flow TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL,
    payer TEXT NOT NULL,
    payee INTEGER NOT NULL,
    accepted_ns INTEGER NOT NULL,
    outcome TEXT,
    decline TEXT,
    final_ns INTEGER,
    acknowledged INTEGER NOT NULL DEFAULT 0,
    UNIQUE (originator, idempotency_key)
);
CREATE TABLE IF NOT EXISTS bookings (
    transfer_id INTEGER PRIMARY KEY,
    payment_id INTEGER NOT NULL REFERENCES payments(id),
    debit INTEGER NOT NULL,
    credit INTEGER NOT NULL,
    currency TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    reversal INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS reversals (
    payment_id INTEGER PRIMARY KEY REFERENCES payments(id),
    intent_ns INTEGER NOT NULL,
    acked_ns INTEGER
);
";

/// Why the journal could not be opened, written or read.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// SQLite said no.
    #[error("journal {path}: {source}")]
    Sqlite {
        /// The journal's path.
        path: String,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file is a journal of another schema, or not ours.
    #[error("journal {path}: {what}")]
    Foreign {
        /// The journal's path.
        path: String,
        /// What is wrong.
        what: String,
    },
    /// The writer thread has stopped (an earlier commit failed).
    #[error("the journal writer has stopped")]
    Stopped,
}

/// A payer's request as journaled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The payment's number (its RRN).
    pub id: u64,
    /// The payer app's idempotency key, unique per originator.
    pub idempotency_key: String,
    /// The originator's name.
    pub originator: String,
    /// The originator's participant: a payment to its own customer (on us) books nothing
    /// between participants.
    pub originator_participant: ParticipantId,
    /// SHA-256 of the request's fields, to tell a retry from a reuse of the key.
    pub request_sha256: String,
    /// The flow's name.
    pub flow: String,
    /// The amount.
    pub amount: Money,
    /// The payer.
    pub payer: String,
    /// The payee's participant.
    pub payee: ParticipantId,
    /// When it was accepted.
    pub at: Timestamp,
}

/// One ledger transfer the switch made: between two settlement accounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Booking {
    /// The transfer's id (unique; the ledger's idempotency key).
    pub transfer: TransferId,
    /// The payment.
    pub payment: u64,
    /// The participant whose settlement account is debited.
    pub debit: ParticipantId,
    /// The participant whose settlement account is credited.
    pub credit: ParticipantId,
    /// The amount.
    pub amount: Money,
    /// Whether this takes back an earlier booking of the payment.
    pub reversal: bool,
}

/// One thing to make durable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A request accepted.
    Accepted(Accepted),
    /// A transfer booked.
    Booked(Booking),
    /// A reversal intent, before its advice is sent.
    ReversalIntent {
        /// The payment.
        payment: u64,
        /// When.
        at: Timestamp,
    },
    /// The reversal advice was acknowledged.
    ReversalAcked {
        /// The payment.
        payment: u64,
        /// When.
        at: Timestamp,
    },
    /// The payment's outcome.
    Final {
        /// The payment.
        payment: u64,
        /// The outcome's name (`approved`, `declined`, `reversed`, ...).
        outcome: String,
        /// The decline class, when declined.
        decline: Option<String>,
        /// When.
        at: Timestamp,
        /// Whether the answer reporting it goes to the payer once this commits.
        acknowledged: bool,
    },
}

fn sqlite(path: &str) -> impl Fn(rusqlite::Error) -> JournalError + '_ {
    move |source| JournalError::Sqlite { path: path.to_string(), source }
}

/// Runs a statement through the connection's statement cache: parsing the SQL of every entry
/// anew cost more than executing it.
fn exec(
    tx: &rusqlite::Transaction<'_>,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<usize> {
    tx.prepare_cached(sql)?.execute(params)
}

fn ns(at: Timestamp) -> i64 {
    i64::try_from(at.as_nanos()).expect("timestamps before 2262")
}

fn minor(amount: Money) -> i64 {
    amount.minor
}

/// An open journal (one connection).
pub struct Journal {
    conn: Connection,
    path: String,
}

impl Journal {
    /// Opens or creates the journal at `path` for writing: WAL, `synchronous=FULL`.
    ///
    /// # Errors
    /// [`JournalError`] when SQLite refuses or the file holds another schema.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        let name = path.display().to_string();
        let conn = Connection::open(path).map_err(sqlite(&name))?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(sqlite(&name))?;
        let journal = Journal { conn, path: name };
        // Schema first: a file that is not ours is refused before anything (even the journal
        // mode, which SQLite writes into the header) is changed.
        journal.check_schema(true)?;
        for (pragma, value) in [("journal_mode", "WAL"), ("synchronous", "FULL")] {
            journal.conn.pragma_update(None, pragma, value).map_err(sqlite(&journal.path))?;
        }
        Ok(journal)
    }

    /// Opens an existing journal read-only.
    ///
    /// # Errors
    /// [`JournalError`] when the file is missing, refused or not a journal of ours.
    pub fn open_read_only(path: &Path) -> Result<Journal, JournalError> {
        let name = path.display().to_string();
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(sqlite(&name))?;
        let journal = Journal { conn, path: name };
        journal.check_schema(false)?;
        Ok(journal)
    }

    fn check_schema(&self, create: bool) -> Result<(), JournalError> {
        let err = sqlite(&self.path);
        let tables: i64 = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| r.get(0))
            .map_err(&err)?;
        if tables == 0 && create {
            self.conn.execute_batch(SCHEMA).map_err(&err)?;
            self.conn
                .execute(
                    "INSERT INTO meta (key, value) VALUES ('schema', ?1), ('writer', 'bakong-sim')",
                    params![SCHEMA_VERSION.to_string()],
                )
                .map_err(&err)?;
            return Ok(());
        }
        let version: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| r.get(0))
            .optional()
            .map_err(|_| JournalError::Foreign {
                path: self.path.clone(),
                what: "not a bakong-sim journal (no meta table); refusing to touch it".into(),
            })?;
        match version {
            Some(v) if v == SCHEMA_VERSION.to_string() => Ok(()),
            Some(v) => Err(JournalError::Foreign {
                path: self.path.clone(),
                what: format!("schema version {v}, this build reads {SCHEMA_VERSION}"),
            }),
            None => Err(JournalError::Foreign {
                path: self.path.clone(),
                what: "not a bakong-sim journal (no schema version); refusing to touch it".into(),
            }),
        }
    }

    /// Commits `entries` in one transaction.
    ///
    /// # Errors
    /// [`JournalError::Sqlite`]; nothing of the batch is kept then.
    pub fn commit(&mut self, entries: &[Entry]) -> Result<(), JournalError> {
        let err = sqlite(&self.path);
        let tx = self.conn.transaction().map_err(&err)?;
        for entry in entries {
            match entry {
                Entry::Accepted(a) => exec(
                    &tx,
                    "INSERT INTO payments (id, idempotency_key, originator, request_sha256, flow, \
                     amount_minor, currency, payer, payee, accepted_ns, originator_participant) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                    params![
                        i64::try_from(a.id).expect("RRNs fit i64"),
                        a.idempotency_key,
                        a.originator,
                        a.request_sha256,
                        a.flow,
                        minor(a.amount),
                        a.amount.currency.alpha(),
                        a.payer,
                        a.payee.0,
                        ns(a.at),
                        a.originator_participant.0
                    ],
                ),
                Entry::Booked(b) => exec(
                    &tx,
                    "INSERT INTO bookings (transfer_id, payment_id, debit, credit, currency, \
                     amount_minor, reversal) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        i64::try_from(b.transfer.0).expect("transfer ids fit i64"),
                        i64::try_from(b.payment).expect("RRNs fit i64"),
                        b.debit.0,
                        b.credit.0,
                        b.amount.currency.alpha(),
                        minor(b.amount),
                        b.reversal
                    ],
                ),
                Entry::ReversalIntent { payment, at } => exec(
                    &tx,
                    "INSERT OR IGNORE INTO reversals (payment_id, intent_ns) VALUES (?1, ?2)",
                    params![i64::try_from(*payment).expect("RRNs fit i64"), ns(*at)],
                ),
                Entry::ReversalAcked { payment, at } => exec(
                    &tx,
                    "UPDATE reversals SET acked_ns = ?2 WHERE payment_id = ?1 AND acked_ns IS NULL",
                    params![i64::try_from(*payment).expect("RRNs fit i64"), ns(*at)],
                ),
                Entry::Final { payment, outcome, decline, at, acknowledged } => exec(
                    &tx,
                    "UPDATE payments SET outcome = ?2, decline = ?3, final_ns = ?4, \
                     acknowledged = max(acknowledged, ?5) WHERE id = ?1 AND outcome IS NULL",
                    params![
                        i64::try_from(*payment).expect("RRNs fit i64"),
                        outcome,
                        decline,
                        ns(*at),
                        *acknowledged
                    ],
                ),
            }
            .map_err(&err)?;
        }
        tx.commit().map_err(&err)
    }

    /// What a restarted server needs: every payment's idempotency record, the ones not final,
    /// the reversal intents not acknowledged, and the bookings in order.
    ///
    /// # Errors
    /// [`JournalError::Sqlite`], also for a payment whose flow or currency this build does not
    /// know.
    pub fn recover(&self) -> Result<Recovered, JournalError> {
        let err = sqlite(&self.path);
        let mut out = Recovered::default();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, idempotency_key, originator, request_sha256, outcome, decline, \
                 payee, amount_minor, currency, flow, originator_participant FROM payments ORDER BY id",
            )
            .map_err(&err)?;
        let rows = stmt
            .query_map([], |r| {
                let id = r.get::<_, i64>(0)? as u64;
                // A name this build does not know is refused, never read as some default.
                let unknown = |column: usize, what: &str, name: &str| {
                    rusqlite::Error::FromSqlConversionFailure(
                        column,
                        rusqlite::types::Type::Text,
                        format!("payment {id}: unknown {what} {name:?}").into(),
                    )
                };
                let flow: String = r.get(9)?;
                let flow = Flow::from_name(&flow).ok_or_else(|| unknown(9, "flow", &flow))?;
                let currency: String = r.get(8)?;
                let currency = Currency::from_alpha(&currency)
                    .ok_or_else(|| unknown(8, "currency", &currency))?;
                Ok(RecoveredPayment {
                    id,
                    idempotency_key: r.get(1)?,
                    originator: r.get(2)?,
                    flow,
                    request_sha256: r.get(3)?,
                    outcome: r.get(4)?,
                    decline: r.get(5)?,
                    payee: ParticipantId(r.get(6)?),
                    originator_participant: ParticipantId(r.get(10)?),
                    amount: Money::new(currency, r.get(7)?),
                })
            })
            .map_err(&err)?;
        for row in rows {
            out.payments.push(row.map_err(&err)?);
        }
        let mut stmt = self
            .conn
            .prepare("SELECT payment_id FROM reversals WHERE acked_ns IS NULL ORDER BY payment_id")
            .map_err(&err)?;
        for row in stmt.query_map([], |r| r.get::<_, i64>(0)).map_err(&err)? {
            out.reversals_open.push(row.map_err(&err)? as u64);
        }
        out.bookings = self.bookings()?;
        Ok(out)
    }

    fn bookings(&self) -> Result<Vec<Booking>, JournalError> {
        let err = sqlite(&self.path);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT transfer_id, payment_id, debit, credit, currency, amount_minor, reversal \
                 FROM bookings ORDER BY transfer_id",
            )
            .map_err(&err)?;
        let rows = stmt
            .query_map([], |r| {
                let currency: String = r.get(4)?;
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, u16>(2)?,
                    r.get::<_, u16>(3)?,
                    currency,
                    r.get::<_, i64>(5)?,
                    r.get::<_, bool>(6)?,
                ))
            })
            .map_err(&err)?;
        let mut out = Vec::new();
        for row in rows {
            let (transfer, payment, debit, credit, currency, amount, reversal) =
                row.map_err(&err)?;
            let currency =
                Currency::from_alpha(&currency).ok_or_else(|| JournalError::Foreign {
                    path: self.path.clone(),
                    what: format!("booking {transfer}: currency {currency:?}"),
                })?;
            out.push(Booking {
                transfer: TransferId(transfer as u64),
                payment: payment as u64,
                debit: ParticipantId(debit),
                credit: ParticipantId(credit),
                amount: Money::new(currency, amount),
                reversal,
            });
        }
        Ok(out)
    }
}

/// A payment as a restarted server sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveredPayment {
    /// Its number.
    pub id: u64,
    /// The idempotency key.
    pub idempotency_key: String,
    /// The originator's name.
    pub originator: String,
    /// Its flow.
    pub flow: Flow,
    /// The request's digest.
    pub request_sha256: String,
    /// Its outcome, when final.
    pub outcome: Option<String>,
    /// The decline class.
    pub decline: Option<String>,
    /// The payee's participant.
    pub payee: ParticipantId,
    /// The originator's participant.
    pub originator_participant: ParticipantId,
    /// The amount.
    pub amount: Money,
}

/// What a restarted server reads back.
#[derive(Clone, Debug, Default)]
pub struct Recovered {
    /// Every payment, by number.
    pub payments: Vec<RecoveredPayment>,
    /// Payments with a reversal intent not acknowledged.
    pub reversals_open: Vec<u64>,
    /// Every booking, by transfer id.
    pub bookings: Vec<Booking>,
}

/// The settlement ledger the switch keeps: one account per participant and currency, opened on
/// first use, no limits; what the bookings replay into.
#[derive(Debug)]
pub struct SettlementBook {
    ledger: Ledger,
    accounts: BTreeMap<(u16, Currency), AccountId>,
}

impl Default for SettlementBook {
    fn default() -> Self {
        SettlementBook { ledger: Ledger::new(LedgerLimits::default()), accounts: BTreeMap::new() }
    }
}

impl SettlementBook {
    fn account(&mut self, participant: ParticipantId, currency: Currency) -> AccountId {
        *self.accounts.entry((participant.0, currency)).or_insert_with(|| {
            let key = AccountKey { participant, currency, purpose: Purpose::Settlement, holder: 0 };
            self.ledger
                .open_account(key, Limits::NONE)
                .expect("one account per key, far under the limit")
        })
    }

    /// Applies a booking (idempotent: the same transfer id twice books once).
    ///
    /// # Errors
    /// The ledger's rejection.
    pub fn apply(
        &mut self,
        b: &Booking,
        now: Timestamp,
    ) -> Result<(), crate::payments::ledger::TransferReject> {
        let debit = self.account(b.debit, b.amount.currency);
        let credit = self.account(b.credit, b.amount.currency);
        let t = Transfer::posted(b.transfer, debit, credit, b.amount, b.payment);
        // The ledger answers a repeated id with its first outcome, so a replay books once.
        self.ledger.execute(Command::Transfer(t), now)
    }

    /// The ledger's invariants.
    pub fn check(&self) -> Result<(), crate::payments::ledger::InvariantBreach> {
        self.ledger.check_invariants()
    }

    /// A participant's net position in a currency (credits − debits).
    pub fn position(&self, participant: ParticipantId, currency: Currency) -> i128 {
        self.accounts
            .get(&(participant.0, currency))
            .and_then(|&id| self.ledger.account(id))
            .map_or(0, |a| a.balance())
    }
}

/// What `sim journal check` prints.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CheckReport {
    /// Payments whose outcome was acknowledged to the payer.
    pub payments_acknowledged: u64,
    /// Payments with an outcome.
    pub payments_final: u64,
    /// Payments without one (in flight when the journal was read).
    pub payments_open: u64,
    /// Payments with more than one net credit, an approved payment without exactly one (none
    /// when on us), or a reversed or declined one that still holds one.
    pub duplicates: u64,
    /// Reversal intents not acknowledged.
    pub reversals_open: u64,
    /// Whether the settlement ledger rebuilt from the bookings passes its invariants.
    pub ledger_invariants_ok: bool,
    /// Each problem found, in payment order (at most [`PROBLEMS_MAX`]).
    pub problems: Vec<String>,
}

/// The most problems a check lists.
pub const PROBLEMS_MAX: usize = 100;

impl CheckReport {
    /// Whether the journal is consistent.
    pub fn ok(&self) -> bool {
        self.duplicates == 0 && self.ledger_invariants_ok && self.problems.is_empty()
    }
}

/// Reads a journal back and checks it: every booking replays into a ledger that passes its
/// invariants; every approved payment has exactly one net booking, every other final payment
/// none; every acknowledged payment is final.
///
/// # Errors
/// [`JournalError`] when it cannot be read.
pub fn check(path: &Path) -> Result<CheckReport, JournalError> {
    let journal = Journal::open_read_only(path)?;
    let recovered = journal.recover()?;
    let err = sqlite(&journal.path);
    let count = |sql: &str| -> Result<u64, JournalError> {
        journal.conn.query_row(sql, [], |r| r.get::<_, i64>(0)).map(|n| n as u64).map_err(&err)
    };
    let mut report = CheckReport {
        payments_acknowledged: count("SELECT count(*) FROM payments WHERE acknowledged = 1")?,
        payments_final: count("SELECT count(*) FROM payments WHERE outcome IS NOT NULL")?,
        payments_open: count("SELECT count(*) FROM payments WHERE outcome IS NULL")?,
        duplicates: 0,
        reversals_open: recovered.reversals_open.len() as u64,
        ledger_invariants_ok: true,
        problems: Vec::new(),
    };
    let problem = |report: &mut CheckReport, text: String| {
        if report.problems.len() < PROBLEMS_MAX {
            report.problems.push(text);
        }
    };
    let unacked_open =
        count("SELECT count(*) FROM payments WHERE acknowledged = 1 AND outcome IS NULL")?;
    if unacked_open > 0 {
        problem(&mut report, format!("{unacked_open} payments acknowledged without an outcome"));
    }
    let mut book = SettlementBook::default();
    let mut net: BTreeMap<u64, i64> = BTreeMap::new();
    for b in &recovered.bookings {
        if let Err(reject) = book.apply(b, Timestamp::EPOCH) {
            report.ledger_invariants_ok = false;
            problem(
                &mut report,
                format!("booking {} of payment {}: {reject:?}", b.transfer.0, b.payment),
            );
        }
        *net.entry(b.payment).or_default() += if b.reversal { -1 } else { 1 };
    }
    if let Err(breach) = book.check() {
        report.ledger_invariants_ok = false;
        problem(&mut report, format!("ledger: {breach:?}"));
    }
    for p in &recovered.payments {
        let credits = net.get(&p.id).copied().unwrap_or(0);
        let on_us = p.originator_participant == p.payee;
        let expected = match p.outcome.as_deref() {
            Some("approved" | "approved_late") => Some(i64::from(!on_us)),
            Some(_) => Some(0),
            None => None,
        };
        let bad = match expected {
            Some(e) => credits != e,
            None => !(0..=1).contains(&credits),
        };
        if bad {
            report.duplicates += 1;
            problem(
                &mut report,
                format!("payment {}: outcome {:?} with {credits} net bookings", p.id, p.outcome),
            );
        }
    }
    Ok(report)
}

type Done = Box<dyn FnOnce(Result<(), String>) + Send>;

/// The handle to the writer thread.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::SyncSender<(Vec<Entry>, Done, std::time::Instant)>,
}

/// Group-commit figures, for `/metrics`.
#[derive(Debug)]
pub struct WriterStats {
    /// Transactions committed.
    pub commits: std::sync::atomic::AtomicU64,
    /// Entries committed.
    pub entries: std::sync::atomic::AtomicU64,
    /// From a submission to its commit, µs: what group commit makes a payment wait.
    pub wait_us: std::sync::Mutex<hdrhistogram::Histogram<u64>>,
}

impl Default for WriterStats {
    fn default() -> WriterStats {
        WriterStats {
            commits: std::sync::atomic::AtomicU64::new(0),
            entries: std::sync::atomic::AtomicU64::new(0),
            wait_us: std::sync::Mutex::new(
                hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3)
                    .expect("valid bounds"),
            ),
        }
    }
}

impl Writer {
    /// Starts the writer thread on `journal`.
    pub fn start(mut journal: Journal, stats: std::sync::Arc<WriterStats>) -> Writer {
        let (tx, rx) =
            mpsc::sync_channel::<(Vec<Entry>, Done, std::time::Instant)>(QUEUE_BATCHES_MAX);
        std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || {
                let mut waiting: Vec<(Vec<Entry>, Done, std::time::Instant)> = Vec::new();
                let mut entries: Vec<Entry> = Vec::new();
                while let Ok(first) = rx.recv() {
                    waiting.push(first);
                    let mut n = waiting[0].0.len();
                    while n < GROUP_ENTRIES_MAX {
                        match rx.try_recv() {
                            Ok(next) => {
                                n += next.0.len();
                                waiting.push(next);
                            }
                            Err(_) => break,
                        }
                    }
                    entries.clear();
                    let mut submitted = Vec::with_capacity(waiting.len());
                    for (batch, _, at) in &mut waiting {
                        if !batch.is_empty() {
                            submitted.push(*at);
                        }
                        entries.append(batch);
                    }
                    let result = journal.commit(&entries).map_err(|e| e.to_string());
                    if result.is_ok() {
                        use std::sync::atomic::Ordering::Relaxed;
                        stats.commits.fetch_add(1, Relaxed);
                        stats.entries.fetch_add(entries.len() as u64, Relaxed);
                        let now = std::time::Instant::now();
                        let mut wait = stats.wait_us.lock().expect("not poisoned");
                        for at in submitted {
                            let us = now.saturating_duration_since(at).as_micros();
                            wait.saturating_record(u64::try_from(us).unwrap_or(u64::MAX).max(1));
                        }
                    }
                    let failed = result.is_err();
                    for (_, done, _) in waiting.drain(..) {
                        done(result.clone());
                    }
                    if failed {
                        // A journal that failed to commit cannot be trusted with more.
                        return;
                    }
                }
            })
            .expect("the journal thread starts");
        Writer { tx }
    }

    /// Queues `entries` for the next commit; `done` runs after it (with the error, if any).
    ///
    /// # Errors
    /// [`JournalError::Stopped`] when the writer has stopped.
    pub fn submit(&self, entries: Vec<Entry>, done: Done) -> Result<(), JournalError> {
        self.tx.send((entries, done, std::time::Instant::now())).map_err(|_| JournalError::Stopped)
    }
}

#[cfg(test)]
mod tests;
