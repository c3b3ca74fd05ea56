//! The payment protocol between the participants of the network, as pure state machines: what
//! each participant does with a message, given the time and the decisions the caller drew.
//!
//! * [`outcome`]: how a payment ends ([`Outcome`]) and why one is declined ([`Decline`]).

pub mod outcome;

pub use outcome::{Decline, Outcome};
