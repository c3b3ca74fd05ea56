//! What one payment moves, and the bookings that follow from it: the originator's hold on the
//! payer's funds and its post or void, the far side's credit to the payee and its reversal,
//! the netting obligation and the scheme amount, and each party's clearing record.
//!
//! Built on the core's own pieces: the conversion's legs ([`conversion_legs`]), the merchant
//! discount as its own entry ([`Fee::command`]), settlement [`Obligation`]s. Accounts come from
//! the caller through [`NetworkAccounts`], so the same terms book in the simulator's ledger and
//! in a server's.

use rust_decimal::Decimal;

use super::message::Stan;
use crate::payments::clearing::{ClearingRecord, MessageKind, Party, Rrn, Status};
use crate::payments::fx::{
    Conversion, FxQuote, FxReject, QuoteId, QuoteRequest, RateSource, RoundingRule,
};
use crate::payments::ledger::{
    AccountId, Command, ConversionAccounts, Transfer, TransferId, conversion_legs,
};
use crate::payments::money::{Currency, Money};
use crate::payments::party::{Flow, ParticipantId};
use crate::payments::settlement::{Fee, Obligation};
use crate::payments::time::{Span, Timestamp, Zone};

/// The accounts a payment's bookings post to, besides the customers' own.
pub trait NetworkAccounts {
    /// The scheme's FX position in `currency` (UPI's, for the cross-border flows).
    fn scheme_position(&self, currency: Currency) -> AccountId;
    /// A member bank's fee income in `currency` (none for a participant that earns no fees).
    fn fee_income(&self, participant: ParticipantId, currency: Currency) -> Option<AccountId>;
}

/// One payment's terms: who pays whom, how much, and at what rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Terms {
    /// The flow.
    pub flow: Flow,
    /// The payment's number: the reference on every ledger record, and its RRN and STAN.
    pub reference: u64,
    /// The payer's wallet.
    pub payer_wallet: AccountId,
    /// The payee's wallet.
    pub payee_wallet: AccountId,
    /// The participant holding the payer's funds (issuer or member bank).
    pub payer_participant: ParticipantId,
    /// The participant holding the payee's account (member bank, acquirer, issuer).
    pub payee_participant: ParticipantId,
    /// The purchase: the payee's price, or a remittance sender's amount.
    pub amount: Money,
    /// The currency the payer pays in.
    pub payer_currency: Currency,
    /// Whether the payee's amount is the fixed one (a merchant's price, an auspicious
    /// remittance) rather than the payer's.
    pub payee_amount_fixed: bool,
    /// The conversion, once the originator has quoted it (cross-border flows).
    pub conversion: Option<Conversion>,
    /// The rate of the quote, billing units per transaction unit (1 without conversion).
    pub rate: Decimal,
    /// The merchant discount the payee's bank charges (inward), once credited.
    pub fee: Money,
}

/// The netting obligation and the scheme amount a credit creates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Obligations {
    /// Between Bakong participants, settled in the next netting cycle.
    pub netting: Obligation,
    /// What UPI owes NBC (`to_nbc`) or NBC owes UPI on the trade date, signed (a reversal is
    /// negative); none for domestic payments.
    pub scheme: Option<SchemeAmount>,
}

/// An amount owed between the scheme and NBC on a trade date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchemeAmount {
    /// Owed to NBC (true) or to UPI.
    pub to_nbc: bool,
    /// Signed: a reversal takes back what its credit added.
    pub amount: Money,
}

impl Terms {
    /// The conversion and the accounts its legs move between.
    fn legs(&self, accounts: &impl NetworkAccounts) -> Option<(Conversion, ConversionAccounts)> {
        let conversion = self.conversion?;
        // Only a spread is booked to fee income; without one the account is never used.
        let fee_income = if conversion.spread.minor > 0 {
            accounts
                .fee_income(self.payer_participant, conversion.spread.currency)
                .expect("a participant that charges a spread has a fee income account")
        } else {
            self.payer_wallet
        };
        let sides = ConversionAccounts {
            payer: self.payer_wallet,
            position_from: accounts.scheme_position(conversion.exchanged.currency),
            fee_income,
            position_to: accounts.scheme_position(conversion.received.currency),
            payee: self.payee_wallet,
        };
        Some((conversion, sides))
    }

    /// What the payer's side must hold: the exchanged amount and the spread (cross-border).
    pub fn exchanged(&self) -> Money {
        self.conversion.map_or(Money::zero(self.amount.currency), |c| c.exchanged)
    }

    /// The spread the payer's bank earns (zero without conversion).
    pub fn spread(&self) -> Money {
        self.conversion.map_or(Money::zero(self.amount.currency), |c| c.spread)
    }

    /// What the payee receives before any fee.
    pub fn received(&self) -> Money {
        self.conversion.map_or(self.amount, |c| c.received)
    }

    /// The quote's id (0 without conversion).
    pub fn quote(&self) -> QuoteId {
        self.conversion.map_or(QuoteId(0), |c| c.quote)
    }

    /// The originator's hold on the payer's funds until `until`: the exchanged amount to the
    /// scheme's position and the spread to the bank's fee income, as pending transfers with ids
    /// `first` and `first + 1`. None without a conversion (domestic payments are not held).
    pub fn hold_commands(
        &self,
        accounts: &impl NetworkAccounts,
        first: TransferId,
        until: Timestamp,
    ) -> Vec<Command> {
        let Some((conversion, sides)) = self.legs(accounts) else { return Vec::new() };
        let legs = conversion_legs(&conversion, sides, first, self.reference);
        [Some(legs.exchanged), legs.spread]
            .into_iter()
            .flatten()
            .map(|t| Command::Transfer(Transfer { pending_until: Some(until), ..t }))
            .collect()
    }

    /// Posts (the payment approved) or voids the hold made with ids from `hold`: ids from
    /// `first`, one per leg held.
    pub fn settle_hold_commands(
        &self,
        hold: TransferId,
        first: TransferId,
        post: bool,
    ) -> Vec<Command> {
        let held = [true, self.spread().minor > 0];
        (0..2u64)
            .filter(|&i| held[i as usize])
            .map(|i| {
                let (id, pending) = (TransferId(first.0 + i), TransferId(hold.0 + i));
                if post {
                    Command::Post { id, pending, amount: None }
                } else {
                    Command::Void { id, pending }
                }
            })
            .collect()
    }

    /// The far side's credit to the payee, ids from `first`: the conversion's last leg (the
    /// scheme's position pays the payee what it receives) and, inward, the merchant discount as
    /// its own entry; domestic, the payer's wallet pays the payee's.
    ///
    /// # Panics
    /// If a cross-border payment has no conversion yet (the originator quotes before it sends).
    pub fn credit_commands(
        &self,
        accounts: &impl NetworkAccounts,
        first: TransferId,
    ) -> Vec<Command> {
        let t = |offset: u64, debit, credit, amount| {
            Command::Transfer(Transfer::posted(
                TransferId(first.0 + offset),
                debit,
                credit,
                amount,
                self.reference,
            ))
        };
        if self.flow == Flow::Domestic {
            return vec![t(0, self.payer_wallet, self.payee_wallet, self.amount)];
        }
        let (conversion, sides) =
            self.legs(accounts).expect("a cross-border payment is quoted before it is credited");
        let received = conversion_legs(&conversion, sides, first, self.reference).received;
        let mut commands = vec![Command::Transfer(Transfer { id: first, ..received })];
        if self.flow == Flow::Inward && self.fee.minor > 0 {
            let income = accounts
                .fee_income(self.payee_participant, self.fee.currency)
                .expect("the payee's bank has a fee income account");
            commands.push(t(1, self.payee_wallet, income, self.fee));
        }
        commands
    }

    /// The reversal of the credit, ids from `first`: its legs the other way round, fee first so
    /// that the payee's wallet never dips below zero.
    pub fn credit_reversal_commands(
        &self,
        accounts: &impl NetworkAccounts,
        first: TransferId,
    ) -> Vec<Command> {
        let mut commands: Vec<Command> = self
            .credit_commands(accounts, first)
            .into_iter()
            .map(|c| match c {
                Command::Transfer(t) => {
                    Command::Transfer(Transfer { debit: t.credit, credit: t.debit, ..t })
                }
                other => other,
            })
            .collect();
        commands.reverse();
        commands
    }

    /// The merchant discount on an inward payment: `mdr` of its amount.
    ///
    /// # Errors
    /// [`crate::payments::money::MoneyError::Overflow`].
    pub fn with_merchant_discount(
        self,
        mdr: Fee,
    ) -> Result<Terms, crate::payments::money::MoneyError> {
        if self.flow != Flow::Inward {
            return Ok(self);
        }
        Ok(Terms { fee: mdr.on(self.amount)?, ..self })
    }

    /// The quote the originator asks for, from the payer's currency to the payee's at the
    /// scheme's published rate, rounded in the provider's favour; none without a conversion.
    pub fn quote_request(&self, now: Timestamp, ttl: Span) -> Option<QuoteRequest> {
        let to = match self.flow {
            Flow::Domestic => return None,
            Flow::Inward => Currency::Khr,
            Flow::Outward | Flow::Remittance => Currency::Cny,
        };
        Some(QuoteRequest {
            from: self.payer_currency,
            to,
            source: RateSource::Scheme,
            participant: self.payer_participant,
            flow: self.flow,
            rounding: RoundingRule::TOWARD_PROVIDER,
            now,
            ttl,
        })
    }

    /// These terms with the conversion of `quote` (what the payer pays for the payee's fixed
    /// amount, or what the payee gets for the payer's).
    ///
    /// # Errors
    /// [`FxReject`] from the quote.
    pub fn converted(self, quote: &FxQuote, now: Timestamp) -> Result<Terms, FxReject> {
        let conversion = if self.payee_amount_fixed {
            quote.convert_for_payee(self.amount, now)
        } else {
            quote.convert_from_payer(self.amount, now)
        }?;
        Ok(Terms { conversion: Some(conversion), rate: quote.rate, ..self })
    }

    /// The netting obligation and scheme amount of the credit (or, `undo`, of its reversal).
    /// `agent` is the settlement agent (NBC), who pays and is paid for the scheme.
    pub fn obligations(&self, agent: ParticipantId, undo: bool) -> Obligations {
        let (payer, payee, amount) = match self.flow {
            Flow::Domestic => (self.payer_participant, self.payee_participant, self.amount),
            Flow::Inward => (agent, self.payee_participant, self.received()),
            Flow::Outward | Flow::Remittance => (self.payer_participant, agent, self.exchanged()),
        };
        let (payer, payee) = if undo { (payee, payer) } else { (payer, payee) };
        let sign = if undo { -1 } else { 1 };
        let scheme = match self.flow {
            Flow::Domestic => None,
            Flow::Inward => Some(SchemeAmount { to_nbc: true, amount: self.received() }),
            Flow::Outward | Flow::Remittance => {
                Some(SchemeAmount { to_nbc: false, amount: self.exchanged() })
            }
        }
        .map(|s| SchemeAmount {
            amount: Money::new(s.amount.currency, sign * s.amount.minor),
            ..s
        });
        Obligations { netting: Obligation { payer, payee, amount }, scheme }
    }

    /// The payment's RRN (DE 37): its number, modulo twelve digits.
    pub fn rrn(&self) -> Rrn {
        Rrn::new(self.reference % (Rrn::MAX + 1)).expect("in range")
    }

    /// One party's clearing record of a message of this payment, seen at `at` with `status`.
    /// `transfer` is the credit the far side booked (0 when none), `qr_md5` the merchant code's.
    pub fn clearing_record(
        &self,
        party: Party,
        kind: MessageKind,
        (at, status): (Timestamp, Status),
        transfer: TransferId,
        qr_md5: String,
    ) -> ClearingRecord {
        let rrn = self.rrn();
        let billed = self.exchanged().checked_add(self.spread()).expect("in range");
        let fee = if self.flow == Flow::Inward { self.fee } else { self.spread() };
        ClearingRecord {
            party,
            business_date: at.date_at(Zone::BEIJING),
            kind,
            rrn,
            trace_number: Stan::of_sequence(self.reference).get(),
            original_rrn: (kind != MessageKind::Purchase).then_some(rrn),
            payment_id: self.reference,
            transfer_id: transfer.0,
            quote_id: self.quote().0,
            qr_md5,
            amount: self.received(),
            billed,
            fx_rate: self.rate,
            fee,
            status,
            at,
        }
    }
}
