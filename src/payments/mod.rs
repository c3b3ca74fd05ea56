//! The payments core: pure domain logic with no I/O, no clock, no randomness and no floating
//! point. The simulator and the load driver both drive this code; nothing here knows which.
//!
//! * [`qr`]: merchant QR codes — KHQR, UnionPay EMVCo and URL codes: decode, verify, encode,
//!   classify.
//! * [`money`]: currencies and amounts in integer minor units with checked arithmetic.
//! * [`fx`]: the rate book (mid and scheme rates over time, markups), quotes, conversions.
//! * [`ledger`]: the double-entry ledger with two-phase transfers and its invariants.
//! * [`clearing`]: each party's clearing records and the CSV files they exchange.
//! * [`csv_text`]: the one CSV writer.
//! * [`settlement`]: business calendars, netting cycles, multilateral net positions.
//! * [`recon`]: matching two parties' files, classifying breaks, resolving them in the ledger.
//! * [`network`]: the payment protocol between participants, as pure state machines.
//! * [`time`] and [`party`]: instants, dates, participants and flows.

#![deny(clippy::float_arithmetic)]

pub mod clearing;
pub mod csv_text;
pub mod fx;
pub mod ledger;
pub mod money;
pub mod network;
pub mod party;
pub mod qr;
pub mod recon;
pub mod settlement;
pub mod time;

#[cfg(test)]
mod tests;
