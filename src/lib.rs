//! bakong-sim: a deterministic simulator of the Bakong ⇄ UnionPay ⇄ WeChat Pay cross-border QR
//! payment network that drives the real payments core.
//!
//! Layers, from the bottom (see ARCHITECTURE.md); each imports only those below it:
//! * [`payments`]: the pure core: QR codecs, money, FX, the ledger, clearing, settlement,
//!   reconciliation, and the payment protocol as state machines ([`payments::network`]).
//! * [`scenario`]: the scenario file format, parsed and validated with located errors.
//! * [`record`]: what a run produced, as data.
//! * [`sim`]: virtual-time simulation: the event queue, the PRNG, stations, links, the payment
//!   world that drives the protocol, the auditor.
//! * [`report`]: renders a record (summaries, CSVs, plots); it reads only [`record`].
//! * [`cli`]: the `sim` command line; the only place for file I/O, the wall clock and `anyhow`.

pub mod capacity;
pub mod cli;
pub mod load;
pub mod payments;
pub mod record;
pub mod report;
pub mod scenario;
pub mod sim;
#[doc(hidden)]
pub mod testkit;

/// Helpers shared by the unit tests.
#[cfg(test)]
pub(crate) mod testing {
    /// A proptest configuration with `default` cases, unless `PROPTEST_CASES` says otherwise (a
    /// soak run sets it high; CI keeps the defaults small for two cores).
    pub(crate) fn proptest_config(default: u32) -> proptest::test_runner::Config {
        let cases =
            std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(default);
        proptest::test_runner::Config::with_cases(cases)
    }
}
