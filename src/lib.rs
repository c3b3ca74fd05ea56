//! bakong-sim: a deterministic simulator of the Bakong ⇄ UnionPay ⇄ WeChat Pay cross-border QR
//! payment network that drives the real payments core.
//!
//! Layers, from the bottom (see ARCHITECTURE.md):
//! * [`payments`]: the pure core (QR codecs; money, FX, ledger, settlement to come).
//! * [`cli`]: the `sim` command line; the only place for file I/O, the wall clock and `anyhow`.

pub mod cli;
pub mod payments;
