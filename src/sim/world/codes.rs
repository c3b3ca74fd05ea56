//! What the payer scans: each merchant's code as the QR core made it, a dynamic or expired code
//! made for the payment, or a damaged print; the payer's app checks it with the protocol's
//! [`app::scan`].

use super::{Code, Decline, Payment, World};
use crate::payments::money::Currency;
use crate::payments::network::app;
use crate::payments::party::Flow;
use crate::payments::qr::{self, AmountInput, CodeKind, EncodeSpec};
use crate::payments::time::Timestamp;

impl World {
    /// The merchant's static code.
    pub(super) fn static_code(&self, pay: &Payment) -> &str {
        let i = pay.payee as usize;
        match pay.flow() {
            Flow::Inward => self.codes.inward_static.get(i),
            Flow::Outward => self.codes.outward.get(i),
            Flow::Domestic => self
                .codes
                .domestic
                .get(2 * i + usize::from(pay.terms.amount.currency == Currency::Usd)),
            Flow::Remittance => "",
        }
    }

    /// The payload the payer's app scans when it is not the static code, made by the QR core.
    pub(super) fn payload(&self, pay: &Payment, now: Timestamp) -> String {
        let base = self.static_code(pay).to_string();
        let now_ms = now.as_millis();
        match pay.code {
            Code::Static => base,
            Code::Dynamic | Code::Expired
                if base.starts_with("000201") && pay.flow() != Flow::Outward =>
            {
                let (created, expires) = if pay.code == Code::Expired {
                    (now_ms - 600_000, now_ms - 300_000)
                } else {
                    (now_ms, now_ms + 300_000)
                };
                let decoded = qr::decode(&base).expect("our own codes decode");
                let currency = if pay.terms.amount.currency == Currency::Usd { 840 } else { 116 };
                let spec = EncodeSpec {
                    kind: CodeKind::Merchant,
                    account_id: decoded.account_id().map(str::to_string),
                    merchant_name: decoded.get(59).map(str::to_string),
                    merchant_city: decoded.get(60).map(str::to_string),
                    merchant_id: decoded.merchant_id().map(str::to_string),
                    acquiring_bank: decoded.acquiring_bank().map(str::to_string),
                    currency_numeric: Some(currency),
                    amount: Some(AmountInput::Text(pay.terms.amount.to_decimal().to_string())),
                    upi_account: decoded.upi_account().map(str::to_string),
                    created_at_ms: Some(created),
                    expires_at_ms: Some(expires),
                    ..EncodeSpec::default()
                };
                qr::encode(&spec).expect("dynamic specs are valid")
            }
            Code::Dynamic | Code::Expired => base,
            Code::Malformed => {
                // A damaged print: one character of the merchant name changed, CRC left alone.
                let mut bytes = base.into_bytes();
                let at = bytes.len() / 2;
                bytes[at] = if bytes[at] == b'#' { b'%' } else { b'#' };
                String::from_utf8(bytes).expect("ASCII")
            }
        }
    }

    /// What the payer's app makes of the code: `None` to go ahead, or why it refuses.
    pub(super) fn scan(&self, pay: &Payment, now: Timestamp) -> Option<Decline> {
        if pay.flow() == Flow::Remittance {
            return None;
        }
        let owned;
        let payload: &str = if pay.code == Code::Static {
            self.static_code(pay)
        } else {
            owned = self.payload(pay, now);
            &owned
        };
        app::scan(pay.flow(), payload, now.as_millis())
    }

    /// The merchant code's md5, the key Bakong looks payments up by (none for URL codes).
    pub(super) fn qr_md5(&self, pay: &Payment) -> String {
        let code = match pay.flow() {
            Flow::Inward | Flow::Outward => self.static_code(pay),
            Flow::Domestic | Flow::Remittance => "",
        };
        if code.starts_with("000201") { qr::md5_hex(code) } else { String::new() }
    }
}

/// Merchant codes, one after another in one string: code `i` ends where code `i + 1` starts.
/// One allocation for all of a table's codes, and eight bytes of index a code, where a `String`
/// took 24 and a heap block of its own: fewer cache lines to reach when a payer scans.
#[derive(Debug, Default)]
pub(super) struct CodeTable {
    text: String,
    /// Where each code ends in `text`.
    ends: Vec<usize>,
}

impl CodeTable {
    /// Appends a code.
    pub(super) fn push(&mut self, code: &str) {
        self.text.push_str(code);
        self.ends.push(self.text.len());
    }

    /// Code `i`.
    ///
    /// # Panics
    /// If there is no code `i`.
    pub(super) fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }
}

impl<S: AsRef<str>> FromIterator<S> for CodeTable {
    fn from_iter<I: IntoIterator<Item = S>>(codes: I) -> Self {
        let mut table = CodeTable::default();
        for code in codes {
            table.push(code.as_ref());
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::CodeTable;
    use crate::sim::world::World;
    use crate::sim::world::build::code_table_bytes_max;

    /// The memory estimate's part for the code tables holds every code a world makes, and is
    /// not far above it.
    #[test]
    fn the_estimate_holds_every_code() {
        let text = include_str!("../../../tests/data/small.toml");
        let scenario = crate::scenario::parse(text).expect("valid");
        let world = World::new(&scenario, 7).expect("fits");
        let c = &world.codes;
        let held: u64 = [&c.inward_static, &c.outward, &c.domestic]
            .iter()
            .map(|t| (t.text.len() + t.ends.len() * size_of::<usize>()) as u64)
            .sum();
        let estimate = code_table_bytes_max(&world.cfg);
        assert!(
            held <= estimate && estimate <= held + held / 10,
            "{held} held, {estimate} estimated"
        );
    }

    #[test]
    fn a_code_table_gives_back_each_code_whole() {
        let codes = ["000201010211", "", "wxp://f2f0", "ភ្នំពេញ", "6304ABCD"];
        let table: CodeTable = codes.iter().collect();
        for (i, code) in codes.iter().enumerate() {
            assert_eq!(table.get(i), *code, "{i}");
        }
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn a_code_past_the_end_is_a_bug() {
        let table: CodeTable = ["a", "b"].iter().collect();
        let _ = table.get(2);
    }
}
