//! The world's books: every participant's accounts in one ledger, the rate book, netting
//! obligations, UPI ⇄ NBC amounts per trade date, and each party's clearing records.
//!
//! Participants: NBC (0), UPI (1), the WeChat Pay acquirer (2), the UnionPay acquirer (3),
//! Bakong member banks (10 + i), Chinese issuers (100 + i). See docs/chart-of-accounts.md and
//! docs/simulation.md for what each booking means.

use std::collections::BTreeMap;

use crate::payments::clearing::ClearingRecord;
use crate::payments::fx::RateBook;
use crate::payments::ledger::{
    AccountId, AccountKey, Command, Ledger, LedgerLimits, Limits, Purpose, Transfer, TransferId,
};
use crate::payments::money::{Currency, Money};
use crate::payments::network::NetworkAccounts;
use crate::payments::party::ParticipantId;
use crate::payments::settlement::{CycleId, Obligation, SettlementAccounts};
use crate::payments::time::{Date, Timestamp};
use crate::scenario::validate::LEDGER_ACCOUNTS_MAX;

/// NBC: the Bakong switch and gateway, and the settlement agent.
pub(crate) const NBC: ParticipantId = ParticipantId(0);
/// UnionPay International.
pub(crate) const UPI: ParticipantId = ParticipantId(1);
/// The acquirers of Chinese merchants: WeChat Pay (Tenpay), UnionPay.
pub(crate) const CN_ACQUIRERS: [ParticipantId; 2] = [ParticipantId(2), ParticipantId(3)];

pub(crate) fn bank(i: u16) -> ParticipantId {
    ParticipantId(10 + i)
}

/// The member bank a participant is, as an index into the banks' accounts (the inverse of
/// [`bank`]; other participants have none, or an index past the banks).
pub(super) fn bank_index(participant: ParticipantId) -> Option<usize> {
    participant.0.checked_sub(10).map(usize::from)
}

pub(crate) fn issuer(i: u16) -> ParticipantId {
    ParticipantId(100 + i)
}

/// Opening balance of every funded customer wallet, per currency (minor units): enough that
/// a payer never runs dry; the insufficient-balance class pays from an empty wallet instead.
const WALLET_OPENING: [i64; 3] = [100_000_000_000, 1_000_000_000, 1_000_000_000];

/// Opening fundings made between two retirements of them: a population of ten million payers
/// never holds its twenty million opening transfers in the log at once.
pub(super) const FUNDING_BATCH: usize = 1 << 16;

/// Whose wallets: the holder number's top byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    InwardPayer = 1,
    InwardMerchant = 2,
    OutwardPayer = 3,
    OutwardMerchant = 4,
    RemittanceSender = 5,
    RemittanceRecipient = 6,
    DomesticPayer = 7,
    DomesticMerchant = 8,
    Empty = 0xFF,
}

/// A customer's wallets (one per currency the role uses) and the participant that holds them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Customer {
    pub(crate) at: u16,
    role: Role,
    /// Its first wallet: the others follow it, one per currency of its role.
    first: u32,
}

impl Customer {
    /// Its wallets in the order they were opened: the `k`-th currency of its role has id
    /// `first + k` (the one place this layout is written down).
    fn wallets(self) -> impl Iterator<Item = (Currency, AccountId)> {
        // Within u32: the run of ids was opened, and ids are u32.
        currencies_of(self.role).iter().zip(0..).map(move |(&c, k)| (c, AccountId(self.first + k)))
    }

    /// Its wallet in `c`.
    ///
    /// # Panics
    /// If its role holds no wallet in `c`.
    pub(crate) fn wallet(self, c: Currency) -> AccountId {
        let wallet = self.wallets().find(|&(w, _)| w == c);
        wallet.expect("the role has a wallet in this currency").1
    }
}

/// One role's customers. Their wallets were opened as one run of account ids, customer by
/// customer, in the order of [`currencies_of`] the role: so customer `i`'s wallets follow from
/// `i`, and only where each is held is kept, two bytes a customer. Looking a payer up reads
/// those two bytes, where a 16-byte record per customer (22 MB for Chinese New Year's 1.37 M)
/// cost a cache miss on most payments.
#[derive(Clone, Debug)]
pub(crate) struct Customers {
    role: Role,
    /// The first wallet's account id.
    first: u32,
    /// Per customer, the index of the participant that holds its wallets.
    at: Vec<u16>,
}

impl Customers {
    /// How many customers the role has.
    pub(crate) fn len(&self) -> usize {
        self.at.len()
    }

    /// Customer `i`.
    ///
    /// # Panics
    /// If the role has no customer `i`.
    pub(crate) fn get(&self, i: u32) -> Customer {
        let per_customer = currencies_of(self.role).len() as u32;
        let first = self.first + i * per_customer;
        Customer { at: self.at[i as usize], role: self.role, first }
    }
}

/// Accounts and books.
pub(crate) struct Books {
    pub(crate) ledger: Ledger,
    pub(crate) rates: RateBook,
    next_transfer: u64,
    external: [AccountId; 3],
    nbc_settlement: [AccountId; 2],
    transit: [AccountId; 2],
    pub(crate) nbc_suspense: [AccountId; 3],
    pub(crate) upi_position: [AccountId; 3],
    pub(crate) upi_usd: AccountId,
    pub(crate) nbc_usd_scheme: AccountId,
    bank_settlement: Vec<[AccountId; 2]>,
    pub(crate) bank_fee: Vec<[AccountId; 3]>,
    pub(crate) bank_empty: Vec<[AccountId; 3]>,
    pub(crate) issuer_empty: Vec<AccountId>,
    /// Each role's customers, in the order of the roles' numbers (every role is opened, in
    /// that order): role `r` at `r - 1`.
    customers: Vec<Customers>,
    /// A canary: fees and spreads go to the next bank's income.
    pub(crate) fee_to_other_bank: bool,
    /// Netting obligations per cycle, aggregated by (payer, payee, currency).
    pub(crate) obligations:
        BTreeMap<CycleId, BTreeMap<(ParticipantId, ParticipantId, Currency), i64>>,
    /// Per UnionPay trade date (Beijing): what UPI owes NBC and NBC owes UPI, per currency.
    pub(crate) scheme_owed: BTreeMap<Date, ([i64; 3], [i64; 3])>,
    /// Clearing records of the business dates still open, per date: the switch's and UPI's.
    pub(crate) clearing_switch: BTreeMap<Date, Vec<ClearingRecord>>,
    pub(crate) clearing_upi: BTreeMap<Date, Vec<ClearingRecord>>,
}

/// Whether the role's wallets open funded (the payers'), by the role's byte.
fn funded(role: u8) -> bool {
    [Role::InwardPayer, Role::OutwardPayer, Role::RemittanceSender, Role::DomesticPayer]
        .iter()
        .any(|&r| r as u8 == role)
}

fn currencies_of(role: Role) -> &'static [Currency] {
    match role {
        Role::InwardPayer | Role::OutwardMerchant | Role::RemittanceRecipient => &[Currency::Cny],
        Role::InwardMerchant | Role::OutwardPayer => &[Currency::Khr],
        Role::RemittanceSender | Role::DomesticPayer | Role::DomesticMerchant => {
            &[Currency::Khr, Currency::Usd]
        }
        Role::Empty => &[Currency::Khr, Currency::Usd, Currency::Cny],
    }
}

impl Books {
    /// Books for member banks prefunded with `prefunds` (KHR, USD each) and `issuers` Chinese
    /// issuers, with room reserved for `hints` (accounts, records, pending); `unfunded_bank`
    /// leaves bank 0 without prefunding (a canary).
    pub(crate) fn new(
        prefunds: &[[i64; 2]],
        issuers: usize,
        hints: [usize; 3],
        unfunded_bank: bool,
    ) -> Books {
        let banks = prefunds.len();
        let mut ledger = Ledger::new(LedgerLimits {
            accounts_max: LEDGER_ACCOUNTS_MAX as u32,
            transfers_max: u32::MAX,
        });
        ledger.reserve(hints[0], hints[1], hints[2]);
        let mut open = |p: ParticipantId,
                        c: Currency,
                        purpose: Purpose,
                        holder: u32,
                        limits: Limits| {
            ledger
                .open_account(AccountKey { participant: p, currency: c, purpose, holder }, limits)
                .expect("keys are distinct and within the limit")
        };
        let per = |f: &mut dyn FnMut(Currency) -> AccountId| Currency::ALL.map(f);
        let external = per(&mut |c| open(NBC, c, Purpose::External, 0, Limits::NONE));
        let nbc_settlement = [Currency::Khr, Currency::Usd]
            .map(|c| open(NBC, c, Purpose::Settlement, 0, Limits::NONE));
        let transit = [Currency::Khr, Currency::Usd]
            .map(|c| open(NBC, c, Purpose::Settlement, 1, Limits::NON_NEGATIVE));
        let nbc_suspense = per(&mut |c| open(NBC, c, Purpose::Suspense, 0, Limits::NONE));
        let upi_position = per(&mut |c| open(UPI, c, Purpose::FxPosition, 0, Limits::NONE));
        let upi_usd = open(UPI, Currency::Usd, Purpose::Settlement, 0, Limits::NONE);
        let nbc_usd_scheme = open(NBC, Currency::Usd, Purpose::Settlement, 2, Limits::NONE);
        let mut bank_settlement = Vec::new();
        let mut bank_fee = Vec::new();
        let mut bank_empty = Vec::new();
        for i in 0..banks as u16 {
            let p = bank(i);
            bank_settlement.push(
                [Currency::Khr, Currency::Usd]
                    .map(|c| open(p, c, Purpose::Settlement, 0, Limits::NON_NEGATIVE)),
            );
            bank_fee.push(per(&mut |c| open(p, c, Purpose::FeeIncome, 0, Limits::NONE)));
            let empty = (Role::Empty as u32) << 24;
            bank_empty.push(per(&mut |c| {
                open(p, c, Purpose::CustomerFunds, empty, Limits::NON_NEGATIVE)
            }));
        }
        let issuer_empty = (0..issuers as u16)
            .map(|i| {
                let holder = (Role::Empty as u32) << 24;
                open(issuer(i), Currency::Cny, Purpose::CustomerFunds, holder, Limits::NON_NEGATIVE)
            })
            .collect();
        let mut books = Books {
            ledger,
            rates: RateBook::new(),
            next_transfer: 1,
            external,
            nbc_settlement,
            transit,
            nbc_suspense,
            upi_position,
            upi_usd,
            nbc_usd_scheme,
            bank_settlement,
            bank_fee,
            bank_empty,
            issuer_empty,
            customers: Vec::new(),
            fee_to_other_bank: false,
            obligations: BTreeMap::new(),
            scheme_owed: BTreeMap::new(),
            clearing_switch: BTreeMap::new(),
            clearing_upi: BTreeMap::new(),
        };
        for (i, prefund) in prefunds.iter().enumerate().skip(usize::from(unfunded_bank)) {
            for (k, c) in [Currency::Khr, Currency::Usd].into_iter().enumerate() {
                let settlement = books.bank_settlement[i][k];
                if prefund[k] > 0 {
                    books.fund(settlement, Money::new(c, prefund[k]));
                }
            }
        }
        books
    }

    /// A member bank's settlement balance at NBC in KHR (`k` 0) or USD (1), minor units.
    pub(crate) fn bank_balance(&self, bank: usize, k: usize) -> i64 {
        let a = &self.ledger.accounts()[self.bank_settlement[bank][k].0 as usize];
        i64::try_from(i128::from(a.credits_posted) - i128::from(a.debits_posted))
            .expect("a settlement balance fits i64")
    }

    /// The bank's treasury brings its settlement balance back up to `target` (a transfer from
    /// outside Bakong, booked at `now`); returns the amount moved.
    pub(crate) fn top_up(&mut self, bank: usize, k: usize, target: i64, now: Timestamp) -> i64 {
        let missing = target - self.bank_balance(bank, k);
        if missing > 0 {
            let currency = [Currency::Khr, Currency::Usd][k];
            let id = TransferId(self.ids(1));
            let account = self.bank_settlement[bank][k];
            let t = Transfer::posted(
                id,
                self.external[currency.index()],
                account,
                Money::new(currency, missing),
                0,
            );
            self.ledger.execute(Command::Transfer(t), now).expect("funding from outside applies");
        }
        missing.max(0)
    }

    /// A fresh transfer id (ids are dense, so the ledger's index stays a direct window).
    pub(crate) fn ids(&mut self, n: u64) -> u64 {
        let first = self.next_transfer;
        self.next_transfer += n;
        first
    }

    fn fund(&mut self, account: AccountId, amount: Money) {
        let id = TransferId(self.ids(1));
        let t = Transfer::posted(id, self.external[amount.currency.index()], account, amount, 0);
        self.ledger
            .execute(Command::Transfer(t), Timestamp::EPOCH)
            .expect("opening balances apply");
    }

    /// Opens `count` customers of `role`, each at the participant `at(i)` returns, and funds
    /// payers' wallets.
    pub(crate) fn open_customers(
        &mut self,
        role: Role,
        count: u32,
        mut at: impl FnMut(u32) -> (ParticipantId, u16),
    ) {
        let funded = funded(role as u8);
        let first = self.ledger.accounts().len() as u32;
        let mut list = Customers { role, first, at: Vec::with_capacity(count as usize) };
        for i in 0..count {
            let (participant, index) = at(i);
            list.at.push(index);
            for (c, wallet) in list.get(i).wallets() {
                let key = AccountKey {
                    participant,
                    currency: c,
                    purpose: Purpose::CustomerFunds,
                    holder: ((role as u32) << 24) | i,
                };
                let id = self.ledger.open_account(key, Limits::NON_NEGATIVE).expect("distinct");
                // `Customers` computes the wallets from this layout.
                assert_eq!(id, wallet, "wallets in one run of ids");
                if funded {
                    self.fund(id, Money::new(c, WALLET_OPENING[c.index()]));
                    if (id.0 as usize).is_multiple_of(FUNDING_BATCH) {
                        self.retire_fundings();
                    }
                }
            }
        }
        assert_eq!(self.customers.len() + 1, role as usize, "roles are opened in their order");
        self.customers.push(list);
        self.retire_fundings();
    }

    /// Retires the opening fundings (booked at the epoch, before any payment): they are never
    /// replayed, and their amounts stay in the balances.
    fn retire_fundings(&mut self) {
        self.ledger.retire(Timestamp::from_nanos(1));
    }

    /// Every customer wallet's opening balance, for the auditor: the rule the wallets were
    /// funded by (a payer's wallet opens with [`WALLET_OPENING`], any other with nothing), not
    /// what the ledger says.
    pub(crate) fn openings(&self) -> impl Iterator<Item = (AccountId, i64)> + '_ {
        self.customers.iter().flat_map(|list| {
            let funded = funded(list.role as u8);
            (0..list.len() as u32).flat_map(move |i| {
                list.get(i).wallets().map(move |(c, wallet)| {
                    (wallet, if funded { WALLET_OPENING[c.index()] } else { 0 })
                })
            })
        })
    }

    /// The customers of `role`.
    pub(crate) fn customers(&self, role: Role) -> &Customers {
        &self.customers[role as usize - 1]
    }

    pub(crate) fn customer(&self, role: Role, i: u32) -> Customer {
        self.customers(role).get(i)
    }

    /// Adds an obligation to a netting cycle (reversals pass payer and payee swapped).
    pub(crate) fn oblige(
        &mut self,
        cycle: CycleId,
        payer: ParticipantId,
        payee: ParticipantId,
        amount: Money,
    ) {
        if payer == payee || amount.minor == 0 {
            return;
        }
        let cell = self
            .obligations
            .entry(cycle)
            .or_default()
            .entry((payer, payee, amount.currency))
            .or_insert(0);
        *cell = cell.checked_add(amount.minor).expect("obligations stay within i64");
    }

    /// The cycle's obligations, aggregated and positive (opposite directions are netted pairwise
    /// first, which netting would do anyway).
    pub(crate) fn take_obligations(&mut self, cycle: CycleId) -> Vec<Obligation> {
        let Some(cells) = self.obligations.remove(&cycle) else { return Vec::new() };
        cells
            .into_iter()
            .filter(|(_, v)| *v != 0)
            .map(|((payer, payee, currency), v)| {
                if v > 0 {
                    Obligation { payer, payee, amount: Money::new(currency, v) }
                } else {
                    Obligation { payer: payee, payee: payer, amount: Money::new(currency, -v) }
                }
            })
            .collect()
    }

    /// Adds to what UPI owes NBC (`to_nbc`) or NBC owes UPI on a trade date.
    pub(crate) fn scheme(&mut self, date: Date, amount: Money, to_nbc: bool) {
        let cell = self.scheme_owed.entry(date).or_insert(([0; 3], [0; 3]));
        let side = if to_nbc { &mut cell.0 } else { &mut cell.1 };
        side[amount.currency.index()] += amount.minor;
    }
}

impl NetworkAccounts for Books {
    fn scheme_position(&self, currency: Currency) -> AccountId {
        self.upi_position[currency.index()]
    }

    fn fee_income(&self, participant: ParticipantId, currency: Currency) -> Option<AccountId> {
        let mut b = bank_index(participant)?;
        if self.fee_to_other_bank && b < self.bank_fee.len() {
            b = (b + 1) % self.bank_fee.len();
        }
        self.bank_fee.get(b).map(|a| a[currency.index()])
    }
}

impl Books {
    /// Every fee income account with a balance, in the ledger's order, for the record.
    pub(super) fn income(&self) -> Vec<crate::record::Income> {
        self.ledger
            .accounts()
            .iter()
            .filter(|a| a.key.purpose == Purpose::FeeIncome && a.balance() != 0)
            .map(|a| crate::record::Income {
                participant: participant_name(a.key.participant),
                currency: a.key.currency,
                earned_minor: a.balance_money().minor,
            })
            .collect()
    }
}

/// A participant's name in reports: its node's (`kh_bank[3]`, `cn_issuer[0]`,
/// `cn_acquirer[1]`, `upi`); NBC, which runs several nodes, is `nbc`.
pub(crate) fn participant_name(p: ParticipantId) -> String {
    use crate::scenario::topology::{CN_ACQUIRER, CN_ISSUER, KH_BANK, UPI as UPI_NODE};
    if p == NBC {
        "nbc".to_owned()
    } else if p == UPI {
        UPI_NODE.to_owned()
    } else if let Some(i) = CN_ACQUIRERS.iter().position(|&a| a == p) {
        format!("{CN_ACQUIRER}[{i}]")
    } else if p.0 >= issuer(0).0 {
        format!("{CN_ISSUER}[{}]", p.0 - issuer(0).0)
    } else if let Some(b) = bank_index(p) {
        format!("{KH_BANK}[{b}]")
    } else {
        format!("participant {}", p.0)
    }
}

impl SettlementAccounts for Books {
    fn settlement_account(
        &self,
        participant: ParticipantId,
        currency: Currency,
    ) -> Option<AccountId> {
        let k = match currency {
            Currency::Khr => 0,
            Currency::Usd => 1,
            Currency::Cny => return None,
        };
        if participant == NBC {
            return Some(self.nbc_settlement[k]);
        }
        self.bank_settlement.get(bank_index(participant)?).map(|a| a[k])
    }

    fn transit_account(&self, currency: Currency) -> Option<AccountId> {
        match currency {
            Currency::Khr => Some(self.transit[0]),
            Currency::Usd => Some(self.transit[1]),
            Currency::Cny => None,
        }
    }
}
