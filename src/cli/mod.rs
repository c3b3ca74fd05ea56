//! The `sim` command line: argument parsing, file and stdout I/O, the wall clock, exit codes.
//!
//! The only layer that uses `anyhow`, touches the filesystem or reads the clock. Exit codes:
//! 0 success; 1 the command ran and its answer is "no" (a payload that does not verify);
//! 2 usage or input error (bad arguments, unreadable or malformed files, undecodable payloads).

#![allow(clippy::disallowed_methods)] // The process edge may read the wall clock.

mod qr;
mod recon;
mod run;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Simulate the Bakong ⇄ UnionPay ⇄ WeChat Pay QR payment network, and work with its QR codes.
#[derive(Debug, Parser)]
#[command(name = "sim", version, about, propagate_version = true)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode, verify and encode merchant QR codes (KHQR, UnionPay, WeChat Pay).
    Qr {
        #[command(subcommand)]
        command: qr::QrCommand,
    },
    /// Reconcile the switch's clearing file with the network's for one business day.
    Recon(recon::ReconArgs),
    /// Run a scenario: simulate, audit, and write the report folder.
    Run(run::RunArgs),
    /// Check a scenario file without running it.
    Validate(run::ValidateArgs),
}

/// What a command asks the process to exit with, besides success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1: the command ran and its answer is negative.
    Negative,
}

/// Runs `sim` with the process arguments and returns its exit code.
pub fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.command {
        Command::Qr { command } => qr::run(command),
        Command::Recon(args) => recon::run(args),
        Command::Run(args) => run::run(args),
        Command::Validate(args) => run::validate(args),
    };
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Negative) => ExitCode::from(1),
        Err(error) => {
            let _ = std::io::stdout().flush();
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Writes `contents` to `path` through a temporary file in the same directory, so a reader never
/// sees half a file.
fn write_atomically(path: &std::path::Path, contents: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    let temporary = path.with_file_name(name);
    std::fs::write(&temporary, contents)
        .with_context(|| format!("writing {}", temporary.display()))?;
    std::fs::rename(&temporary, path)
        .with_context(|| format!("renaming {} to {}", temporary.display(), path.display()))
}
