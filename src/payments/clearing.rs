//! Clearing records: each party's own record of every message it cleared, and the CSV files
//! they exchange, one per party and business day.
//!
//! A record carries the identifiers real systems match on: the retrieval reference number (RRN,
//! 12 digits, the same at every party for one payment), the system trace audit number (STAN, a
//! party's own 6-digit counter), the KHQR's md5, the ledger transfer id and the FX quote id;
//! amounts in the transaction and the billing currency, the rate, the fee, and the status.
//!
//! Files are text in and text out (the command line reads and writes them): a header row, one
//! row per record, and a trailer `#end,records=N` so that a truncated file is an error, never a
//! shorter day. Every reading error names its line and field.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

use super::csv_text::CsvText;
use super::money::{AMOUNT_MINOR_MAX, Currency, Money};
use super::party::ParticipantId;
use super::time::{Date, Timestamp};

/// Who keeps a clearing record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Party {
    /// The Bakong switch (NBC).
    Switch,
    /// UnionPay International.
    Upi,
    /// A member bank, as issuer or acquirer.
    Bank(ParticipantId),
    /// The WeChat Pay acquirer (Tenpay).
    WechatAcquirer,
    /// A UnionPay acquirer in China.
    UnionpayAcquirer,
}

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Party::Switch => f.write_str("switch"),
            Party::Upi => f.write_str("upi"),
            Party::Bank(p) => write!(f, "bank-{}", p.0),
            Party::WechatAcquirer => f.write_str("wechat-acquirer"),
            Party::UnionpayAcquirer => f.write_str("unionpay-acquirer"),
        }
    }
}

impl FromStr for Party {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "switch" => Ok(Party::Switch),
            "upi" => Ok(Party::Upi),
            "wechat-acquirer" => Ok(Party::WechatAcquirer),
            "unionpay-acquirer" => Ok(Party::UnionpayAcquirer),
            other => other
                .strip_prefix("bank-")
                .and_then(|n| n.parse().ok())
                .map(|n| Party::Bank(ParticipantId(n)))
                .ok_or(()),
        }
    }
}

/// What a message did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MessageKind {
    /// A payment.
    Purchase,
    /// The reversal of a payment (`original_rrn` names it).
    Reversal,
    /// A refund of a settled payment (`original_rrn` names it).
    Refund,
}

impl MessageKind {
    /// Every kind.
    pub const ALL: [MessageKind; 3] =
        [MessageKind::Purchase, MessageKind::Reversal, MessageKind::Refund];

    /// The name in files: `purchase`, `reversal`, `refund`.
    pub fn name(self) -> &'static str {
        match self {
            MessageKind::Purchase => "purchase",
            MessageKind::Reversal => "reversal",
            MessageKind::Refund => "refund",
        }
    }
}

/// How a message ended at the party that recorded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Approved.
    Approved,
    /// Declined.
    Declined,
    /// No answer within the timeout.
    TimedOut,
}

impl Status {
    /// Every status.
    pub const ALL: [Status; 3] = [Status::Approved, Status::Declined, Status::TimedOut];

    /// The name in files: `approved`, `declined`, `timed_out`.
    pub fn name(self) -> &'static str {
        match self {
            Status::Approved => "approved",
            Status::Declined => "declined",
            Status::TimedOut => "timed_out",
        }
    }
}

/// A retrieval reference number: 12 digits, the key every party shares for one payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rrn(u64);

impl Rrn {
    /// The largest RRN.
    pub const MAX: u64 = 999_999_999_999;

    /// An RRN, if `n` has at most 12 digits.
    pub fn new(n: u64) -> Option<Rrn> {
        (n <= Self::MAX).then_some(Rrn(n))
    }

    /// Its number.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Rrn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:012}", self.0)
    }
}

/// One party's record of one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClearingRecord {
    /// Who keeps it.
    pub party: Party,
    /// The business date it belongs to in that party's calendar.
    pub business_date: Date,
    /// Purchase, reversal or refund.
    pub kind: MessageKind,
    /// The shared key.
    pub rrn: Rrn,
    /// The party's own trace number (STAN), 0–999 999.
    pub trace_number: u32,
    /// For a reversal or refund, the RRN of the payment it undoes.
    pub original_rrn: Option<Rrn>,
    /// The simulator's payment number.
    pub payment_id: u64,
    /// The ledger transfer this party booked (0 when none).
    pub transfer_id: u64,
    /// The FX quote used (0 when none).
    pub quote_id: u64,
    /// Lower-case hex md5 of the merchant's QR payload (empty for URL codes).
    pub qr_md5: String,
    /// The amount in the transaction (merchant's) currency.
    pub amount: Money,
    /// The amount in the billing (payer's) currency.
    pub billed: Money,
    /// The rate applied, billing units per transaction unit (1 when no conversion).
    pub fx_rate: Decimal,
    /// The fee this party charged or bore.
    pub fee: Money,
    /// How it ended here.
    pub status: Status,
    /// When this party recorded it.
    pub at: Timestamp,
}

/// The columns of a clearing file, in order.
pub const COLUMNS: [&str; 19] = [
    "party",
    "business_date",
    "kind",
    "rrn",
    "trace_number",
    "original_rrn",
    "payment_id",
    "transfer_id",
    "quote_id",
    "qr_md5",
    "amount_currency",
    "amount_minor",
    "billed_currency",
    "billed_minor",
    "fx_rate",
    "fee_currency",
    "fee_minor",
    "status",
    "at_ns",
];

const TRAILER_PREFIX: &str = "#end,records=";

/// Writes a clearing file: header, one row per record in the given order, trailer.
pub fn write_clearing_file<'a>(records: impl IntoIterator<Item = &'a ClearingRecord>) -> String {
    let mut writer = CsvText::new(COLUMNS);
    let mut count = 0usize;
    for r in records {
        count += 1;
        let row = [
            r.party.to_string(),
            r.business_date.to_string(),
            r.kind.name().to_owned(),
            r.rrn.to_string(),
            format!("{:06}", r.trace_number),
            r.original_rrn.map(|o| o.to_string()).unwrap_or_default(),
            r.payment_id.to_string(),
            r.transfer_id.to_string(),
            r.quote_id.to_string(),
            r.qr_md5.clone(),
            r.amount.currency.alpha().to_owned(),
            r.amount.minor.to_string(),
            r.billed.currency.alpha().to_owned(),
            r.billed.minor.to_string(),
            r.fx_rate.to_string(),
            r.fee.currency.alpha().to_owned(),
            r.fee.minor.to_string(),
            r.status.name().to_owned(),
            r.at.as_nanos().to_string(),
        ];
        writer.row(&row);
    }
    let mut text = writer.finish();
    text.push_str(&format!("{TRAILER_PREFIX}{count}\n"));
    text
}

/// A clearing file that cannot be read: where and what.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}{}: {kind}", field.map(|f| format!(", field `{f}`")).unwrap_or_default())]
pub struct ClearingFileError {
    /// 1-based line number.
    pub line: u64,
    /// The column, when one field is at fault.
    pub field: Option<&'static str>,
    /// What was wrong.
    pub kind: ClearingFileErrorKind,
}

/// What was wrong with a clearing file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClearingFileErrorKind {
    /// The file does not end with its trailer line: it was cut short.
    #[error("no `#end,records=N` trailer: the file is truncated")]
    Truncated,
    /// The trailer's count differs from the rows read.
    #[error("the trailer says {declared} records but the file has {found}")]
    CountMismatch {
        /// What the trailer says.
        declared: u64,
        /// Rows read.
        found: u64,
    },
    /// The header row is not the expected columns.
    #[error("the header is not the clearing file columns")]
    Header,
    /// A row with the wrong number of fields, or bad CSV.
    #[error("malformed row: {0}")]
    Csv(String),
    /// A field whose value cannot be read.
    #[error("cannot read {0:?}")]
    Value(String),
    /// An amount that is not a whole number of minor units from 0 to the largest payment.
    #[error("{0:?} is not an amount in minor units from 0 to {AMOUNT_MINOR_MAX}")]
    Amount(String),
}

/// Reads a clearing file written by [`write_clearing_file`] (or a party's system).
///
/// # Errors
/// [`ClearingFileError`] with the line and field at fault.
pub fn read_clearing_file(text: &str) -> Result<Vec<ClearingRecord>, ClearingFileError> {
    let error = |line, field, kind| ClearingFileError { line, field, kind };
    // Lines end with LF or, from some systems, CRLF.
    let body = text.strip_suffix('\n').ok_or_else(|| {
        error(text.lines().count() as u64, None, ClearingFileErrorKind::Truncated)
    })?;
    let body = body.strip_suffix('\r').unwrap_or(body);
    let (rows, trailer) = body.rsplit_once('\n').unwrap_or(("", body));
    let trailer_line = body.lines().count() as u64;
    let declared: u64 = trailer
        .strip_prefix(TRAILER_PREFIX)
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| error(trailer_line, None, ClearingFileErrorKind::Truncated))?;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(rows.as_bytes());
    let mut records = Vec::new();
    for (index, row) in reader.records().enumerate() {
        let line = index as u64 + 1;
        let row = row.map_err(|e| error(line, None, ClearingFileErrorKind::Csv(e.to_string())))?;
        if index == 0 {
            if row.iter().ne(COLUMNS) {
                return Err(error(1, None, ClearingFileErrorKind::Header));
            }
            continue;
        }
        records.push(parse_row(&row, line)?);
    }
    if records.len() as u64 != declared {
        return Err(error(
            trailer_line,
            None,
            ClearingFileErrorKind::CountMismatch { declared, found: records.len() as u64 },
        ));
    }
    Ok(records)
}

fn parse_row(row: &csv::StringRecord, line: u64) -> Result<ClearingRecord, ClearingFileError> {
    let field = |i: usize| row.get(i).unwrap_or("");
    let bad = |i: usize| ClearingFileError {
        line,
        field: Some(COLUMNS[i]),
        kind: ClearingFileErrorKind::Value(field(i).to_owned()),
    };
    let parse_u64 = |i: usize| field(i).parse::<u64>().map_err(|_| bad(i));
    // Amounts are whole minor units, never negative, and at most the largest payment, so that
    // no sum or difference of them can overflow.
    let amount = |i: usize| {
        field(i).parse::<i64>().ok().filter(|m| (0..=AMOUNT_MINOR_MAX).contains(m)).ok_or_else(
            || ClearingFileError {
                line,
                field: Some(COLUMNS[i]),
                kind: ClearingFileErrorKind::Amount(field(i).to_owned()),
            },
        )
    };
    let currency = |i: usize| {
        Currency::from_alpha(field(i)).filter(|c| c.alpha() == field(i)).ok_or_else(|| bad(i))
    };
    let rrn = |i: usize| {
        let text = field(i);
        let digits = text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit());
        digits.then(|| text.parse().ok().and_then(Rrn::new)).flatten().ok_or_else(|| bad(i))
    };
    let date = |i: usize| {
        let parts: Vec<&str> = field(i).split('-').collect();
        match parts.as_slice() {
            [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => Date::new(
                y.parse().map_err(|_| bad(i))?,
                m.parse().map_err(|_| bad(i))?,
                d.parse().map_err(|_| bad(i))?,
            )
            .ok_or_else(|| bad(i)),
            _ => Err(bad(i)),
        }
    };
    let kind = MessageKind::ALL.into_iter().find(|k| k.name() == field(2)).ok_or_else(|| bad(2))?;
    let status = Status::ALL.into_iter().find(|s| s.name() == field(17)).ok_or_else(|| bad(17))?;
    let trace_number = u32::try_from(parse_u64(4)?)
        .ok()
        .filter(|&t| t <= 999_999 && field(4).len() == 6)
        .ok_or_else(|| bad(4))?;
    let original_rrn = if field(5).is_empty() { None } else { Some(rrn(5)?) };
    let md5_ok = field(9).is_empty()
        || (field(9).len() == 32
            && field(9).bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
    if !md5_ok {
        return Err(bad(9));
    }
    Ok(ClearingRecord {
        party: field(0).parse().map_err(|()| bad(0))?,
        business_date: date(1)?,
        kind,
        rrn: rrn(3)?,
        trace_number,
        original_rrn,
        payment_id: parse_u64(6)?,
        transfer_id: parse_u64(7)?,
        quote_id: parse_u64(8)?,
        qr_md5: field(9).to_owned(),
        amount: Money::new(currency(10)?, amount(11)?),
        billed: Money::new(currency(12)?, amount(13)?),
        fx_rate: field(14).parse::<Decimal>().map_err(|_| bad(14))?,
        fee: Money::new(currency(15)?, amount(16)?),
        status,
        at: Timestamp::from_nanos(parse_u64(18)?),
    })
}
