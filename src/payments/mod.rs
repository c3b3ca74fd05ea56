//! The payments core: pure domain logic with no I/O, no clock, no randomness and no floating
//! point. The simulator and the load driver both drive this code; nothing here knows which.
//!
//! * [`qr`]: merchant QR codes — KHQR, UnionPay EMVCo and URL codes: decode, verify, encode,
//!   classify.

#![deny(clippy::float_arithmetic)]

pub mod qr;
