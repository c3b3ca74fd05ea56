//! The payment protocol between the participants of the network, as pure state machines: what
//! each participant does with a message, given the time and the decisions the caller drew.
//! No queue, no clock, no randomness, no I/O: the simulator drives these in virtual time and a
//! server on real sockets, so both run the same business logic.
//!
//! * [`message`]: ISO 8583-shaped messages: MTI, STAN, RRN, amounts, response codes.
//! * [`outcome`]: how a payment ends ([`Outcome`]) and why one is declined ([`Decline`]).
//! * [`app`]: the payer's app, which scans and verifies the merchant's code.
//! * [`originator`]: the participant holding the payer's funds: authorise, hold, wait, inquire,
//!   reverse.
//! * [`far_side`]: the participant booking the payee's side: credit, answer, reverse a credit.
//! * [`iso8583`]: the wire codec: framing, bitmaps, field formats, the MAC.
//! * [`relay`]: the nodes on the way with deadlines of their own: decline or stand in, and
//!   advise downstream.
//! * [`terms`]: what a payment moves and every booking that follows from it (holds, credits,
//!   reversals, netting obligations, clearing records).

pub mod app;
pub mod far_side;
pub mod iso8583;
pub mod message;
pub mod originator;
pub mod outcome;
pub mod relay;
pub mod terms;

pub use message::{Message, Mti, ResponseCode, Stan};
pub use outcome::{Decline, Outcome};
pub use terms::{NetworkAccounts, Terms};
