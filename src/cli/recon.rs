//! `sim recon`: reconcile two parties' clearing files for one business day.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use super::output::Writer;
use super::run::{finish_writing, prepare};
use super::{CLEARING_FILE_BYTES_MAX, Outcome, read_text};
use crate::payments::clearing::{ClearingRecord, read_clearing_file};
use crate::payments::recon::{ReconConfig, ReconSummary, reconcile, write_breaks};
use crate::report::ReportFile;

/// Reconcile the switch's clearing file with the network's for one business day.
///
/// Writes the folder --out with reconciliation.csv (one row per break, with its resolution) and
/// recon-summary.csv (counts and amounts per class), both or neither, and prints the summary.
/// Exits 0 when the files agree, 1 when there are breaks, 2 when a file cannot be read or --out
/// holds anything but a report of ours.
#[derive(Debug, Args)]
pub(super) struct ReconArgs {
    /// The switch's clearing file for the day.
    #[arg(long, value_name = "FILE")]
    ours: PathBuf,
    /// The network's clearing file for the day.
    #[arg(long, value_name = "FILE")]
    theirs: PathBuf,
    /// The network's file for the next business day, to recognise late presentments.
    #[arg(long, value_name = "FILE")]
    theirs_next: Option<PathBuf>,
    /// The folder to write (new, empty, or a reconciliation report of ours to replace).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The largest amount difference, in minor units, treated as FX rounding.
    #[arg(long, value_name = "MINOR", default_value_t = ReconConfig::default().rounding_tolerance_minor)]
    rounding_tolerance: i64,
}

fn read(path: &Path) -> anyhow::Result<Vec<ClearingRecord>> {
    let text = read_text(path, CLEARING_FILE_BYTES_MAX, "clearing file")?;
    read_clearing_file(&text).with_context(|| format!("clearing file {}", path.display()))
}

pub(super) fn run(args: ReconArgs) -> anyhow::Result<Outcome> {
    anyhow::ensure!(args.rounding_tolerance >= 0, "--rounding-tolerance must not be negative");
    let target = prepare(&args.out)?;
    let ours = read(&args.ours)?;
    let theirs = read(&args.theirs)?;
    let theirs_next = args.theirs_next.as_deref().map(read).transpose()?.unwrap_or_default();
    let config = ReconConfig { rounding_tolerance_minor: args.rounding_tolerance };
    let breaks = reconcile(&ours, &theirs, &theirs_next, config);
    let summary = ReconSummary::new(&breaks);
    let files = vec![
        ReportFile::new("reconciliation.csv", write_breaks(&breaks)),
        ReportFile::new("recon-summary.csv", summary.to_string()),
    ];
    let writer = Writer { command: "recon", scenario: None, seed: None };
    finish_writing(target, &writer, files, &args.out)?;
    print!("{summary}");
    say!("breaks: {} in {} + {} records", breaks.len(), ours.len(), theirs.len());
    Ok(if breaks.is_empty() { Outcome::Success } else { Outcome::Negative })
}
