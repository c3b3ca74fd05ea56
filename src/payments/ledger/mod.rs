//! The double-entry ledger: accounts, transfers, two-phase holds, and the invariants.
//!
//! Every transfer debits one account and credits another by the same amount in the same
//! currency, so for each currency the balances of all accounts sum to zero by construction;
//! [`Ledger::check_invariants`] proves it, and more, on demand.
//!
//! * A transfer either posts at once or holds the amount as *pending* until it is posted (in
//!   full or in part; the rest is released), voided, or expires at its stated time.
//! * A transfer id seen before returns its first outcome and changes nothing; the same id with
//!   different fields is refused ([`TransferReject::IdReusedWithDifferentFields`]).
//! * A linked chain ([`Ledger::execute_linked`]) applies all or nothing: a conversion is two
//!   transfers through FX position accounts plus the spread as its own entry.
//! * Rejections are values ([`TransferReject`]), checked in the fixed order the enum lists.
//!
//! * With a retention horizon ([`Ledger::retire`]), records older than it are folded into
//!   their accounts' carried-forward totals and dropped: the ledger keeps every balance and an
//!   idempotency window, not every record forever. A command whose id (or whose pending
//!   transfer's id) was retired is refused ([`TransferReject::IdRetired`],
//!   [`TransferReject::PendingRetired`]) rather than risk applying it twice; inside the window a
//!   replay still returns its first outcome. A held pending transfer is never dropped, however
//!   old: it is parked until it is posted, voided or expires.
//!
//! Limits apply to an account's balance `credits − debits`: a floor (a prefunded settlement
//! account or a wallet never goes below zero; pending debits count against it) and a ceiling
//! (pending credits count against it). Nothing here reads a clock: `now` is a parameter.

mod index;
#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque, btree_map};

use index::IdIndex;

use super::fx::Conversion;
use super::money::{Currency, Money};
use super::party::ParticipantId;
use super::time::Timestamp;

/// An account's position in the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(pub u32);

/// A transfer's identifier, chosen by the caller; retries reuse it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TransferId(pub u64);

/// What an account is for (see docs/chart-of-accounts.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Purpose {
    /// A participant's settlement (prefunding) account at the settlement agent.
    Settlement,
    /// A customer's funds held by a participant (a wallet or account).
    CustomerFunds,
    /// A participant's open currency position from conversions.
    FxPosition,
    /// Fees and spreads a participant earns.
    FeeIncome,
    /// Amounts awaiting investigation (reconciliation breaks).
    Suspense,
    /// Money entering or leaving the modelled system (cash-in, cash-out, reserves).
    External,
}

/// An account's identity: unique within a ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountKey {
    /// Who holds or operates it.
    pub participant: ParticipantId,
    /// Its one currency.
    pub currency: Currency,
    /// What it is for.
    pub purpose: Purpose,
    /// Which one, when a participant has many of a purpose (customers); 0 otherwise.
    pub holder: u32,
}

impl AccountKey {
    /// The key as one integer, in the same order as the key (participant, currency, purpose,
    /// holder): the ledger's key map compares one word instead of four fields.
    fn packed(self) -> u64 {
        u64::from(self.participant.0) << 48
            | u64::from(self.currency as u8) << 40
            | u64::from(self.purpose as u8) << 32
            | u64::from(self.holder)
    }
}

/// Bounds on an account's balance `credits − debits`, in minor units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Limits {
    /// The balance, less pending debits, never goes below this.
    pub floor: Option<i64>,
    /// The balance, plus pending credits, never goes above this.
    pub ceiling: Option<i64>,
}

impl Limits {
    /// No bounds (FX positions, fee income, external accounts).
    pub const NONE: Limits = Limits { floor: None, ceiling: None };
    /// Never below zero (prefunded settlement accounts, wallets).
    pub const NON_NEGATIVE: Limits = Limits { floor: Some(0), ceiling: None };
}

/// An account and its four totals, in minor units. One cache line: the ledger touches two
/// random accounts per transfer, and a line each is what keeps that fast.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(align(64))]
pub struct Account {
    /// Its identity.
    pub key: AccountKey,
    /// The floor, `i64::MIN` for none.
    floor: i64,
    /// The ceiling, `i64::MAX` for none.
    ceiling: i64,
    /// Posted debits.
    pub debits_posted: u64,
    /// Posted credits.
    pub credits_posted: u64,
    /// Debits held by pending transfers.
    pub debits_pending: u64,
    /// Credits held by pending transfers.
    pub credits_pending: u64,
    /// The posted balance (`credits − debits`) of the retired records that touched it: what it
    /// carries forward beyond the log. It fills the cache line's last eight bytes.
    carried: i64,
}

const _: () = assert!(std::mem::size_of::<Account>() == 64);

impl Account {
    fn new(key: AccountKey, limits: Limits) -> Self {
        Account {
            key,
            floor: limits.floor.unwrap_or(i64::MIN),
            ceiling: limits.ceiling.unwrap_or(i64::MAX),
            debits_posted: 0,
            credits_posted: 0,
            debits_pending: 0,
            credits_pending: 0,
            carried: 0,
        }
    }

    /// Its bounds.
    pub fn limits(&self) -> Limits {
        Limits {
            floor: (self.floor != i64::MIN).then_some(self.floor),
            ceiling: (self.ceiling != i64::MAX).then_some(self.ceiling),
        }
    }

    /// Posted balance, `credits − debits`.
    pub fn balance(&self) -> i128 {
        i128::from(self.credits_posted) - i128::from(self.debits_posted)
    }

    /// What may still be debited: posted balance less pending debits.
    pub fn available(&self) -> i128 {
        self.balance() - i128::from(self.debits_pending)
    }

    /// Whether the available balance is at or above the floor.
    fn within_floor(&self) -> bool {
        self.available() >= i128::from(self.floor)
    }

    /// Whether the balance with pending credits is at or below the ceiling.
    fn within_ceiling(&self) -> bool {
        self.balance() + i128::from(self.credits_pending) <= i128::from(self.ceiling)
    }

    /// The posted balance as money.
    pub fn balance_money(&self) -> Money {
        let minor =
            i64::try_from(self.balance()).expect("balances stay within i64 by the overflow check");
        Money::new(self.key.currency, minor)
    }
}

/// A transfer between two accounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// Its id.
    pub id: TransferId,
    /// The account debited.
    pub debit: AccountId,
    /// The account credited.
    pub credit: AccountId,
    /// Minor units, positive.
    pub amount: u64,
    /// The currency of both accounts.
    pub currency: Currency,
    /// `Some(t)`: hold the amount until posted or voided, expiring at `t`; `None`: post now.
    pub pending_until: Option<Timestamp>,
    /// The payment (or conversion) it belongs to; opaque to the ledger, kept in the log.
    pub reference: u64,
}

impl Transfer {
    /// A transfer of `amount` that posts at once.
    ///
    /// # Panics
    /// If `amount` is negative: direction is given by `debit` and `credit`.
    pub fn posted(
        id: TransferId,
        debit: AccountId,
        credit: AccountId,
        amount: Money,
        reference: u64,
    ) -> Transfer {
        let minor = u64::try_from(amount.minor).expect("a transfer amount is not negative");
        Transfer {
            id,
            debit,
            credit,
            amount: minor,
            currency: amount.currency,
            pending_until: None,
            reference,
        }
    }

    /// A transfer that posts a signed amount at once: a positive amount debits `debit` and
    /// credits `credit`, a negative one goes the other way round, and zero moves nothing.
    pub fn posted_signed(
        id: TransferId,
        debit: AccountId,
        credit: AccountId,
        amount: Money,
        reference: u64,
    ) -> Option<Transfer> {
        let (debit, credit) = if amount.minor >= 0 { (debit, credit) } else { (credit, debit) };
        let magnitude = Money::new(
            amount.currency,
            i64::try_from(amount.minor.unsigned_abs()).expect("not i64::MIN"),
        );
        (amount.minor != 0).then(|| Transfer::posted(id, debit, credit, magnitude, reference))
    }
}

/// One ledger command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// A transfer, posted at once or pending.
    Transfer(Transfer),
    /// Post a pending transfer: `amount` (default: all of it); any rest is released.
    Post {
        /// This command's id.
        id: TransferId,
        /// The pending transfer.
        pending: TransferId,
        /// How much to post.
        amount: Option<u64>,
    },
    /// Release a pending transfer.
    Void {
        /// This command's id.
        id: TransferId,
        /// The pending transfer.
        pending: TransferId,
    },
}

impl Command {
    /// The command's id.
    pub fn id(&self) -> TransferId {
        match self {
            Command::Transfer(t) => t.id,
            Command::Post { id, .. } | Command::Void { id, .. } => *id,
        }
    }
}

/// Why a command was refused. A command is checked in the order of this list (the checks that
/// apply to its kind), and the first failure is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TransferReject {
    /// The id is at or below the highest id the retention horizon dropped, and not in the
    /// window: the ledger no longer knows whether it was applied, so it refuses it.
    IdRetired,
    /// The id was used before by a different command; nothing changed.
    IdReusedWithDifferentFields,
    /// Debit and credit are the same account.
    AccountsSame,
    /// No account with the debit id.
    DebitAccountNotFound,
    /// No account with the credit id.
    CreditAccountNotFound,
    /// Post or void of an id that is not a pending transfer that was applied.
    PendingNotFound,
    /// Post or void of a pending transfer older than the retention horizon (it was final and
    /// is dropped).
    PendingRetired,
    /// The pending transfer was already posted.
    PendingAlreadyPosted,
    /// The pending transfer was already voided.
    PendingAlreadyVoided,
    /// The pending transfer's time ran out (it is released).
    PendingExpired,
    /// A zero amount.
    AmountZero,
    /// The post is larger than the amount held.
    AmountExceedsPending,
    /// The accounts or the transfer are in different currencies.
    CurrencyMismatch,
    /// A pending transfer whose expiry is not after now.
    ExpiryNotInFuture,
    /// A total would overflow 64 bits, or a balance would leave the i64 range.
    Overflow,
    /// The debit would take the account below its floor.
    InsufficientFunds,
    /// The credit would take the account above its ceiling.
    LimitExceeded,
    /// Another command of the linked chain failed, so this one was not applied.
    LinkedEventFailed,
    /// The ledger holds [`LedgerLimits::transfers_max`] records; nothing was recorded.
    LedgerFull,
}

impl TransferReject {
    /// The name in files and reports (`insufficient_funds`).
    pub fn name(self) -> &'static str {
        match self {
            TransferReject::IdRetired => "id_retired",
            TransferReject::IdReusedWithDifferentFields => "id_reused_with_different_fields",
            TransferReject::AccountsSame => "accounts_same",
            TransferReject::DebitAccountNotFound => "debit_account_not_found",
            TransferReject::CreditAccountNotFound => "credit_account_not_found",
            TransferReject::PendingNotFound => "pending_not_found",
            TransferReject::PendingRetired => "pending_retired",
            TransferReject::PendingAlreadyPosted => "pending_already_posted",
            TransferReject::PendingAlreadyVoided => "pending_already_voided",
            TransferReject::PendingExpired => "pending_expired",
            TransferReject::AmountZero => "amount_zero",
            TransferReject::AmountExceedsPending => "amount_exceeds_pending",
            TransferReject::CurrencyMismatch => "currency_mismatch",
            TransferReject::ExpiryNotInFuture => "expiry_not_in_future",
            TransferReject::Overflow => "overflow",
            TransferReject::InsufficientFunds => "insufficient_funds",
            TransferReject::LimitExceeded => "limit_exceeded",
            TransferReject::LinkedEventFailed => "linked_event_failed",
            TransferReject::LedgerFull => "ledger_full",
        }
    }
}

/// What became of a pending transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PendingState {
    /// Not a pending transfer (posted at once, a post, a void, or refused).
    NotPending,
    /// Holding its amount.
    Held,
    /// Posted, this much.
    Posted(u64),
    /// Voided.
    Voided,
    /// Expired.
    Expired,
}

/// One command as the ledger recorded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// The command.
    pub command: Command,
    /// Its first outcome.
    pub outcome: Result<(), TransferReject>,
    /// When it was executed.
    pub at: Timestamp,
    /// For an applied pending transfer, what became of it.
    pub state: PendingState,
}

/// Sizes a ledger must not exceed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LedgerLimits {
    /// Accounts.
    pub accounts_max: u32,
    /// Records held in the transfer log at once (applied or refused commands, not counting
    /// those retired). Over the ledger's life at most `u32::MAX − 1` records may be written.
    pub transfers_max: u32,
}

impl Default for LedgerLimits {
    fn default() -> Self {
        LedgerLimits { accounts_max: 1 << 24, transfers_max: 1 << 30 }
    }
}

/// Why an account could not be opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenAccountError {
    /// An account with this key exists.
    #[error("an account {0:?} already exists")]
    Duplicate(AccountKey),
    /// The ledger holds [`LedgerLimits::accounts_max`] accounts.
    #[error("the ledger is full ({0} accounts)")]
    Full(u32),
    /// A floor above the ceiling.
    #[error("the floor is above the ceiling")]
    FloorAboveCeiling,
}

/// A broken ledger invariant: a bug, reported with what and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvariantBreach {
    /// Posted debits and credits differ in a currency.
    #[error("{currency}: posted debits {debits} != posted credits {credits}")]
    PostedUnbalanced {
        /// The currency.
        currency: Currency,
        /// Sum of posted debits.
        debits: u128,
        /// Sum of posted credits.
        credits: u128,
    },
    /// Pending debits and credits differ in a currency.
    #[error("{currency}: pending debits {debits} != pending credits {credits}")]
    PendingUnbalanced {
        /// The currency.
        currency: Currency,
        /// Sum of pending debits.
        debits: u128,
        /// Sum of pending credits.
        credits: u128,
    },
    /// An account is below its floor.
    #[error("account {0:?} is below its floor")]
    FloorBroken(AccountId),
    /// An account is above its ceiling.
    #[error("account {0:?} is above its ceiling")]
    CeilingBroken(AccountId),
    /// An account's totals differ from what the transfer log adds up to.
    #[error("account {0:?}: totals disagree with the transfer log")]
    LogDisagrees(AccountId),
}

/// The ledger.
#[derive(Clone, Debug)]
pub struct Ledger {
    accounts: Vec<Account>,
    /// Account ids by [`AccountKey::packed`].
    keys: BTreeMap<u64, AccountId>,
    /// The records from log position `first` on (positions count every record ever written).
    log: VecDeque<Record>,
    /// The log position of `log[0]`: how many records were retired or parked before it.
    first: usize,
    /// Held pending transfers the retention horizon passed, by log position, kept until final.
    parked: BTreeMap<u32, Record>,
    /// The highest command id retired: an id at or below it that the index lacks is refused.
    retired_id_max: Option<u64>,
    index: IdIndex,
    /// Pending transfers by (expiry, log position): popped in that order, so expiry is
    /// deterministic. Entries whose transfer was posted or voided are skipped when popped.
    expiries: BinaryHeap<Reverse<(Timestamp, u32)>>,
    limits: LedgerLimits,
    /// The highest command id recorded: a larger id is new without a lookup.
    id_max: Option<u64>,
}

impl Default for Ledger {
    fn default() -> Self {
        Self::new(LedgerLimits::default())
    }
}

/// The accounts a conversion moves money between.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConversionAccounts {
    /// The payer's account, in the `from` currency.
    pub payer: AccountId,
    /// The provider's FX position in the `from` currency.
    pub position_from: AccountId,
    /// The provider's fee income in the `from` currency.
    pub fee_income: AccountId,
    /// The provider's FX position in the `to` currency.
    pub position_to: AccountId,
    /// The payee's account, in the `to` currency.
    pub payee: AccountId,
}

/// The three legs of a conversion, as transfers: the payer pays the provider's FX position the
/// exchanged amount (`first_id`), and its fee income the spread (`first_id + 1`, absent when
/// the spread is zero), and the provider's position in the other currency pays the payee what it
/// receives (`first_id + 2`). A payment network books them apart: the originator holds the first
/// two (pending) when it authorises, and the far side posts the third when it credits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConversionLegs {
    /// Payer → FX position, the exchanged amount.
    pub exchanged: Transfer,
    /// Payer → fee income, the spread (none when zero).
    pub spread: Option<Transfer>,
    /// FX position → payee, the amount received.
    pub received: Transfer,
}

/// The legs of a conversion; see [`ConversionLegs`].
pub fn conversion_legs(
    conversion: &Conversion,
    accounts: ConversionAccounts,
    first_id: TransferId,
    reference: u64,
) -> ConversionLegs {
    let leg = |offset: u64, debit, credit, money: Money| {
        Transfer::posted(TransferId(first_id.0 + offset), debit, credit, money, reference)
    };
    ConversionLegs {
        exchanged: leg(0, accounts.payer, accounts.position_from, conversion.exchanged),
        spread: (conversion.spread.minor > 0)
            .then(|| leg(1, accounts.payer, accounts.fee_income, conversion.spread)),
        received: leg(2, accounts.position_to, accounts.payee, conversion.received),
    }
}

/// The linked commands that book a conversion at once: its [`conversion_legs`] in order.
/// Ids are `first_id`, `first_id + 1`, `first_id + 2` (the spread's id is used even when the
/// spread is zero, so a retry always reuses the same ids).
pub fn conversion_commands(
    conversion: &Conversion,
    accounts: ConversionAccounts,
    first_id: TransferId,
    reference: u64,
) -> Vec<Command> {
    let legs = conversion_legs(conversion, accounts, first_id, reference);
    [Some(legs.exchanged), legs.spread, Some(legs.received)]
        .into_iter()
        .flatten()
        .map(Command::Transfer)
        .collect()
}

/// What applying one command changed, to undo it if its linked chain fails.
#[derive(Clone, Copy, Debug)]
enum Applied {
    Posted { debit: usize, credit: usize, amount: u64 },
    Held { debit: usize, credit: usize, amount: u64, position: usize },
    PendingPosted { debit: usize, credit: usize, held: u64, posted: u64, position: usize },
    PendingVoided { debit: usize, credit: usize, held: u64, position: usize },
}

impl Ledger {
    /// An empty ledger with these bounds.
    pub fn new(limits: LedgerLimits) -> Self {
        Ledger {
            accounts: Vec::new(),
            keys: BTreeMap::new(),
            log: VecDeque::new(),
            first: 0,
            parked: BTreeMap::new(),
            retired_id_max: None,
            index: IdIndex::with_capacity(1024),
            expiries: BinaryHeap::new(),
            limits,
            id_max: None,
        }
    }

    /// Reserves room for `accounts` accounts and `transfers` records (of which at most `pending`
    /// are pending transfers), and touches it, so that a long run pays for its memory at start-up
    /// rather than on first use (page faults).
    pub fn reserve(&mut self, accounts: usize, transfers: usize, pending: usize) {
        self.accounts.reserve(accounts);
        let used = self.log.len();
        let filler = Record {
            command: Command::Void { id: TransferId(0), pending: TransferId(0) },
            outcome: Ok(()),
            at: Timestamp::EPOCH,
            state: PendingState::NotPending,
        };
        self.log.resize(used + transfers, filler);
        self.log.truncate(used);
        let mut heap = std::mem::take(&mut self.expiries).into_vec();
        let held = heap.len();
        heap.resize(held + pending, Reverse((Timestamp::EPOCH, 0)));
        heap.truncate(held);
        self.expiries = BinaryHeap::from(heap);
        self.index.reserve(transfers);
    }

    /// Opens an account.
    ///
    /// # Errors
    /// [`OpenAccountError`].
    pub fn open_account(
        &mut self,
        key: AccountKey,
        limits: Limits,
    ) -> Result<AccountId, OpenAccountError> {
        let slot = match self.keys.entry(key.packed()) {
            btree_map::Entry::Occupied(_) => return Err(OpenAccountError::Duplicate(key)),
            btree_map::Entry::Vacant(slot) => slot,
        };
        if self.accounts.len() >= self.limits.accounts_max as usize {
            return Err(OpenAccountError::Full(self.limits.accounts_max));
        }
        if let (Some(floor), Some(ceiling)) = (limits.floor, limits.ceiling)
            && floor > ceiling
        {
            return Err(OpenAccountError::FloorAboveCeiling);
        }
        let id = AccountId(u32::try_from(self.accounts.len()).expect("bounded by accounts_max"));
        self.accounts.push(Account::new(key, limits));
        slot.insert(id);
        Ok(id)
    }

    /// The account with this key.
    pub fn account_id(&self, key: &AccountKey) -> Option<AccountId> {
        self.keys.get(&key.packed()).copied()
    }

    /// The account with this id.
    pub fn account(&self, id: AccountId) -> Option<&Account> {
        self.accounts.get(id.0 as usize)
    }

    /// Every account, in id order.
    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }

    /// The records held (not retired), in execution order: parked holds first, then the log.
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.parked.values().chain(self.log.iter())
    }

    /// How many records are held (parked and in the log).
    pub fn records_count(&self) -> usize {
        self.parked.len() + self.log.len()
    }

    /// How many records were written over the ledger's life, retired ones included.
    pub fn written_count(&self) -> usize {
        self.next_position()
    }

    /// How many records were retired over the ledger's life.
    pub fn retired_count(&self) -> usize {
        self.first - self.parked.len()
    }

    /// The record of a command id, if it is held.
    pub fn record(&self, id: TransferId) -> Option<&Record> {
        self.index.get(id.0).map(|position| self.slot(position as usize))
    }

    /// The record at a log position that is held.
    fn slot(&self, position: usize) -> &Record {
        match position.checked_sub(self.first) {
            Some(i) => &self.log[i],
            None => &self.parked[&(position as u32)],
        }
    }

    fn slot_mut(&mut self, position: usize) -> &mut Record {
        match position.checked_sub(self.first) {
            Some(i) => &mut self.log[i],
            None => self.parked.get_mut(&(position as u32)).expect("a held position"),
        }
    }

    /// The log position the next record takes.
    fn next_position(&self) -> usize {
        self.first + self.log.len()
    }

    /// Whether `extra` more records fit: the held bound, and positions within `u32`.
    fn has_room(&self, extra: usize) -> bool {
        self.records_count() + extra <= self.limits.transfers_max as usize
            && self.next_position() + extra < u32::MAX as usize
    }

    /// Retires every record executed before `before` (the retention horizon): its posted
    /// amounts join its accounts' carried-forward totals, its id leaves the index, and the
    /// record is dropped. A held pending transfer is parked instead and retired once final.
    /// Balances, holds and invariants are unchanged. Returns how many records were retired.
    ///
    /// Idempotency holds for every command id executed at or after `before`; a command whose
    /// id is at or below the highest id retired is refused with [`TransferReject::IdRetired`]
    /// (so ids must be issued in increasing order over time for the window to mean anything).
    pub fn retire(&mut self, before: Timestamp) -> usize {
        let mut retired_count = 0;
        let finals: Vec<u32> = self
            .parked
            .iter()
            .filter(|(_, r)| r.state != PendingState::Held)
            .map(|(&position, _)| position)
            .collect();
        for position in finals {
            let record = self.parked.remove(&position).expect("listed");
            self.fold_retired(record);
            retired_count += 1;
        }
        while let Some(record) = self.log.front().copied() {
            if record.at >= before {
                break;
            }
            self.log.pop_front();
            let position = self.first;
            self.first += 1;
            if record.outcome.is_ok() && record.state == PendingState::Held {
                self.parked.insert(position as u32, record);
            } else {
                self.fold_retired(record);
                retired_count += 1;
            }
        }
        retired_count
    }

    /// Adds a final record's posted amounts to the retired totals and forgets its id.
    fn fold_retired(&mut self, record: Record) {
        assert!(record.state != PendingState::Held, "a held transfer is not retired");
        let id = record.command.id().0;
        self.index.remove(id);
        self.retired_id_max = Some(self.retired_id_max.map_or(id, |max| max.max(id)));
        if let Some((t, posted)) = posted_amount(&record) {
            // Within i64: the amount moved a balance that the overflow check keeps in range.
            let posted = posted as i64;
            self.accounts[t.debit.0 as usize].carried -= posted;
            self.accounts[t.credit.0 as usize].carried += posted;
        }
    }

    /// Approximate bytes held by accounts, log and indexes.
    pub fn memory_bytes(&self) -> usize {
        let key_entry = std::mem::size_of::<u64>() + std::mem::size_of::<AccountId>();
        self.accounts.capacity() * std::mem::size_of::<Account>()
            + self.keys.len() * key_entry * 2
            + self.log.capacity() * std::mem::size_of::<Record>()
            + self.parked.len() * (std::mem::size_of::<Record>() + 16)
            + self.index.memory_bytes()
            + self.expiries.capacity() * std::mem::size_of::<Reverse<(Timestamp, u32)>>()
    }

    /// Executes one command at `now`. A command id seen before returns its first outcome.
    ///
    /// # Errors
    /// The first [`TransferReject`] in the enum's order.
    pub fn execute(&mut self, command: Command, now: Timestamp) -> Result<(), TransferReject> {
        if let Some(previous) = self.previous_outcome(&command) {
            return previous;
        }
        if !self.has_room(1) {
            return Err(TransferReject::LedgerFull);
        }
        let result = self.apply(command, now);
        let state = match (&result, command) {
            (Ok(_), Command::Transfer(t)) if t.pending_until.is_some() => PendingState::Held,
            _ => PendingState::NotPending,
        };
        self.push_record(Record { command, outcome: result.map(|_| ()), at: now, state });
        result.map(|_| ())
    }

    /// Executes a linked chain at `now`: every command applies, or none does. When one fails,
    /// it records its own rejection, the others record [`TransferReject::LinkedEventFailed`], and
    /// the ledger is as before. A chain whose ids were all seen before returns its first outcome.
    ///
    /// # Errors
    /// The failing command's position in the chain and its rejection.
    pub fn execute_linked(
        &mut self,
        commands: &[Command],
        now: Timestamp,
    ) -> Result<(), (usize, TransferReject)> {
        let seen = commands.iter().map(|c| self.previous_outcome(c)).collect::<Vec<_>>();
        if let Some(i) = seen.iter().position(|o| *o == Some(Err(TransferReject::IdRetired))) {
            return Err((i, TransferReject::IdRetired));
        }
        if seen.iter().all(Option::is_some) && !commands.is_empty() {
            let first_failure = seen.iter().enumerate().find_map(|(i, o)| match o {
                Some(Err(reject)) if *reject != TransferReject::LinkedEventFailed => {
                    Some((i, *reject))
                }
                _ => None,
            });
            return match first_failure {
                Some(failure) => Err(failure),
                None if seen.iter().all(|o| *o == Some(Ok(()))) => Ok(()),
                None => Err((0, TransferReject::LinkedEventFailed)),
            };
        }
        if let Some(i) = seen.iter().position(Option::is_some) {
            // A partly seen chain is not a retry of anything: refuse it whole.
            return Err((i, TransferReject::IdReusedWithDifferentFields));
        }
        if !self.has_room(commands.len()) {
            return Err((0, TransferReject::LedgerFull));
        }
        let first_position = self.log.len();
        let mut applied = Vec::with_capacity(commands.len());
        for (i, &command) in commands.iter().enumerate() {
            match self.apply(command, now) {
                Ok(change) => {
                    let state = if matches!(change, Applied::Held { .. }) {
                        PendingState::Held
                    } else {
                        PendingState::NotPending
                    };
                    self.push_record(Record { command, outcome: Ok(()), at: now, state });
                    applied.push(change);
                }
                Err(reject) => {
                    for change in applied.into_iter().rev() {
                        self.undo(change);
                    }
                    for record in self.log.range_mut(first_position..) {
                        record.outcome = Err(TransferReject::LinkedEventFailed);
                        record.state = PendingState::NotPending;
                    }
                    for (j, &command) in commands.iter().enumerate().skip(i) {
                        let outcome =
                            Err(if j == i { reject } else { TransferReject::LinkedEventFailed });
                        self.push_record(Record {
                            command,
                            outcome,
                            at: now,
                            state: PendingState::NotPending,
                        });
                    }
                    return Err((i, reject));
                }
            }
        }
        Ok(())
    }

    /// The first outcome of a command id seen before: the same outcome for the same command,
    /// [`TransferReject::IdReusedWithDifferentFields`] for a different one, and
    /// [`TransferReject::IdRetired`] for an id the retention horizon may have dropped.
    fn previous_outcome(&self, command: &Command) -> Option<Result<(), TransferReject>> {
        let id = command.id().0;
        if self.id_max.is_none_or(|max| id > max) {
            return None;
        }
        let Some(record) = self.record(command.id()) else {
            return self
                .retired_id_max
                .is_some_and(|max| id <= max)
                .then_some(Err(TransferReject::IdRetired));
        };
        Some(if record.command == *command {
            record.outcome
        } else {
            Err(TransferReject::IdReusedWithDifferentFields)
        })
    }

    fn push_record(&mut self, record: Record) {
        let position = u32::try_from(self.next_position()).expect("bounded by has_room");
        let id = record.command.id().0;
        self.index.insert(id, position);
        self.id_max = Some(self.id_max.map_or(id, |max| max.max(id)));
        if let (Ok(()), PendingState::Held, Command::Transfer(t)) =
            (record.outcome, record.state, record.command)
        {
            self.expiries.push(Reverse((t.pending_until.expect("held implies pending"), position)));
        }
        self.log.push_back(record);
    }

    /// Validates and applies one command; on success returns what changed.
    fn apply(&mut self, command: Command, now: Timestamp) -> Result<Applied, TransferReject> {
        match command {
            Command::Transfer(t) => self.apply_transfer(t, now),
            Command::Post { pending, amount, .. } => self.apply_post(pending, amount, now),
            Command::Void { pending, .. } => self.apply_void(pending, now),
        }
    }

    fn apply_transfer(&mut self, t: Transfer, now: Timestamp) -> Result<Applied, TransferReject> {
        use TransferReject as R;
        if t.debit == t.credit {
            return Err(R::AccountsSame);
        }
        let (debit, credit) = (t.debit.0 as usize, t.credit.0 as usize);
        let d = *self.accounts.get(debit).ok_or(R::DebitAccountNotFound)?;
        let c = *self.accounts.get(credit).ok_or(R::CreditAccountNotFound)?;
        if t.amount == 0 {
            return Err(R::AmountZero);
        }
        if d.key.currency != t.currency || c.key.currency != t.currency {
            return Err(R::CurrencyMismatch);
        }
        if t.pending_until.is_some_and(|until| until <= now) {
            return Err(R::ExpiryNotInFuture);
        }
        let amount = t.amount;
        let fits = |a: u64, b: u64, extra: u64| {
            a.checked_add(b)
                .and_then(|s| s.checked_add(extra))
                .is_some_and(|s| s <= i64::MAX as u64)
        };
        if !fits(d.debits_posted, d.debits_pending, amount)
            || !fits(c.credits_posted, c.credits_pending, amount)
        {
            return Err(R::Overflow);
        }
        if d.available() - i128::from(amount) < i128::from(d.floor) {
            return Err(R::InsufficientFunds);
        }
        if c.balance() + i128::from(c.credits_pending) + i128::from(amount) > i128::from(c.ceiling)
        {
            return Err(R::LimitExceeded);
        }
        if t.pending_until.is_some() {
            self.accounts[debit].debits_pending += amount;
            self.accounts[credit].credits_pending += amount;
            Ok(Applied::Held { debit, credit, amount, position: self.next_position() })
        } else {
            self.accounts[debit].debits_posted += amount;
            self.accounts[credit].credits_posted += amount;
            Ok(Applied::Posted { debit, credit, amount })
        }
    }

    /// The log position and transfer of a pending transfer that is still held at `now`;
    /// expires it first if its time has come.
    fn held_pending(
        &mut self,
        pending: TransferId,
        now: Timestamp,
    ) -> Result<(usize, Transfer), TransferReject> {
        use TransferReject as R;
        let Some(position) = self.index.get(pending.0) else {
            let retired = self.retired_id_max.is_some_and(|max| pending.0 <= max);
            return Err(if retired { R::PendingRetired } else { R::PendingNotFound });
        };
        let position = position as usize;
        let record = *self.slot(position);
        let Command::Transfer(t) = record.command else { return Err(R::PendingNotFound) };
        let until = match (record.outcome, t.pending_until) {
            (Ok(()), Some(until)) => until,
            _ => return Err(R::PendingNotFound),
        };
        match record.state {
            PendingState::Posted(_) => Err(R::PendingAlreadyPosted),
            PendingState::Voided => Err(R::PendingAlreadyVoided),
            PendingState::Expired => Err(R::PendingExpired),
            PendingState::NotPending => {
                unreachable!("an applied pending transfer has a pending state")
            }
            PendingState::Held if until <= now => {
                self.release(position, PendingState::Expired);
                Err(R::PendingExpired)
            }
            PendingState::Held => Ok((position, t)),
        }
    }

    /// Releases a held pending transfer's amounts and sets its final state.
    fn release(&mut self, position: usize, state: PendingState) {
        let record = self.slot_mut(position);
        let Command::Transfer(t) = record.command else { unreachable!("pending is a transfer") };
        assert_eq!(record.state, PendingState::Held, "only a held transfer is released");
        record.state = state;
        self.accounts[t.debit.0 as usize].debits_pending -= t.amount;
        self.accounts[t.credit.0 as usize].credits_pending -= t.amount;
    }

    fn apply_post(
        &mut self,
        pending: TransferId,
        amount: Option<u64>,
        now: Timestamp,
    ) -> Result<Applied, TransferReject> {
        let (position, t) = self.held_pending(pending, now)?;
        let posted = amount.unwrap_or(t.amount);
        if posted == 0 {
            return Err(TransferReject::AmountZero);
        }
        if posted > t.amount {
            return Err(TransferReject::AmountExceedsPending);
        }
        let (debit, credit) = (t.debit.0 as usize, t.credit.0 as usize);
        // Overflow: moving from pending to posted cannot exceed what the hold already reserved.
        self.release(position, PendingState::Posted(posted));
        self.accounts[debit].debits_posted += posted;
        self.accounts[credit].credits_posted += posted;
        Ok(Applied::PendingPosted { debit, credit, held: t.amount, posted, position })
    }

    fn apply_void(
        &mut self,
        pending: TransferId,
        now: Timestamp,
    ) -> Result<Applied, TransferReject> {
        let (position, t) = self.held_pending(pending, now)?;
        self.release(position, PendingState::Voided);
        Ok(Applied::PendingVoided {
            debit: t.debit.0 as usize,
            credit: t.credit.0 as usize,
            held: t.amount,
            position,
        })
    }

    fn undo(&mut self, change: Applied) {
        match change {
            Applied::Posted { debit, credit, amount } => {
                self.accounts[debit].debits_posted -= amount;
                self.accounts[credit].credits_posted -= amount;
            }
            Applied::Held { debit, credit, amount, position } => {
                self.accounts[debit].debits_pending -= amount;
                self.accounts[credit].credits_pending -= amount;
                self.slot_mut(position).state = PendingState::NotPending;
            }
            Applied::PendingPosted { debit, credit, held, posted, position } => {
                self.accounts[debit].debits_posted -= posted;
                self.accounts[credit].credits_posted -= posted;
                self.accounts[debit].debits_pending += held;
                self.accounts[credit].credits_pending += held;
                self.slot_mut(position).state = PendingState::Held;
            }
            Applied::PendingVoided { debit, credit, held, position } => {
                self.accounts[debit].debits_pending += held;
                self.accounts[credit].credits_pending += held;
                self.slot_mut(position).state = PendingState::Held;
            }
        }
    }

    /// Adds `amount` to an account's posted credits with no debit and no record: breaks double
    /// entry on purpose. Only the auditor's canary tests call it, to show the breach is caught.
    #[doc(hidden)]
    pub fn sabotage_unbalanced_credit(&mut self, id: AccountId, amount: u64) {
        self.accounts[id.0 as usize].credits_posted += amount;
    }

    /// Expires every pending transfer whose time is at or before `now`, in (expiry, log
    /// position) order. Returns how many expired.
    pub fn expire(&mut self, now: Timestamp) -> usize {
        let mut expired_count = 0;
        while let Some(&Reverse((until, position))) = self.expiries.peek() {
            if until > now {
                break;
            }
            self.expiries.pop();
            let position = position as usize;
            // A position already retired was final before it went.
            if position < self.first && !self.parked.contains_key(&(position as u32)) {
                continue;
            }
            let record = self.slot(position);
            if record.outcome.is_ok() && record.state == PendingState::Held {
                self.release(position, PendingState::Expired);
                expired_count += 1;
            }
        }
        expired_count
    }

    /// Checks every ledger invariant: per currency, posted debits equal posted credits and
    /// pending debits equal pending credits (so balances sum to zero); every account within its
    /// limits; every account's totals equal to what the transfer log adds up to. O(accounts +
    /// records).
    ///
    /// # Errors
    /// The first [`InvariantBreach`] found.
    pub fn check_invariants(&self) -> Result<(), InvariantBreach> {
        let mut sums = [[0u128; 4]; Currency::ALL.len()];
        for (i, a) in self.accounts.iter().enumerate() {
            let s = &mut sums[a.key.currency.index()];
            s[0] += u128::from(a.debits_posted);
            s[1] += u128::from(a.credits_posted);
            s[2] += u128::from(a.debits_pending);
            s[3] += u128::from(a.credits_pending);
            let id = AccountId(i as u32);
            if !a.within_floor() {
                return Err(InvariantBreach::FloorBroken(id));
            }
            if !a.within_ceiling() {
                return Err(InvariantBreach::CeilingBroken(id));
            }
        }
        for currency in Currency::ALL {
            let [dp, cp, dpend, cpend] = sums[currency.index()];
            if dp != cp {
                return Err(InvariantBreach::PostedUnbalanced {
                    currency,
                    debits: dp,
                    credits: cp,
                });
            }
            if dpend != cpend {
                return Err(InvariantBreach::PendingUnbalanced {
                    currency,
                    debits: dpend,
                    credits: cpend,
                });
            }
        }
        self.check_log_agrees()
    }

    /// Per account: the pending totals equal the holds in the log, and the posted balance
    /// equals the log's posted movements plus the balance carried forward from retired records.
    /// The balances are summed modulo 2^64 (eight bytes an account, for ten million accounts):
    /// a wrong balance passes only if it is off by a multiple of 2^64.
    fn check_log_agrees(&self) -> Result<(), InvariantBreach> {
        let mut net: Vec<i64> = self.accounts.iter().map(|a| a.carried).collect();
        let mut held: BTreeMap<usize, [u64; 2]> = BTreeMap::new();
        for record in self.records() {
            let (Ok(()), Command::Transfer(t)) = (record.outcome, record.command) else { continue };
            let (debit, credit) = (t.debit.0 as usize, t.credit.0 as usize);
            if record.state == PendingState::Held {
                held.entry(debit).or_default()[0] += t.amount;
                held.entry(credit).or_default()[1] += t.amount;
            }
            if let Some((_, posted)) = posted_amount(record) {
                net[debit] = net[debit].wrapping_sub(posted as i64);
                net[credit] = net[credit].wrapping_add(posted as i64);
            }
        }
        for (i, (a, net)) in self.accounts.iter().zip(net).enumerate() {
            let balance = a.credits_posted.wrapping_sub(a.debits_posted) as i64;
            let pending = held.get(&i).copied().unwrap_or_default();
            if balance != net || [a.debits_pending, a.credits_pending] != pending {
                return Err(InvariantBreach::LogDisagrees(AccountId(i as u32)));
            }
        }
        Ok(())
    }
}

/// The transfer an applied record moved money by, and how much it posted (a transfer posted at
/// once, or the posted part of a pending one); `None` for anything that posted nothing.
fn posted_amount(record: &Record) -> Option<(Transfer, u64)> {
    let (Ok(()), Command::Transfer(t)) = (record.outcome, record.command) else { return None };
    match (t.pending_until, record.state) {
        (None, _) => Some((t, t.amount)),
        (Some(_), PendingState::Posted(amount)) => Some((t, amount)),
        (Some(_), _) => None,
    }
}
