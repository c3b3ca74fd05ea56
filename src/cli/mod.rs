//! The `sim` command line: argument parsing, file and stdout I/O, the wall clock, exit codes.
//!
//! The only layer that uses `anyhow`, touches the filesystem or reads the clock. Exit codes:
//! 0 success; 1 the command ran and its answer is "no" (a payload that does not verify);
//! 2 usage or input error (bad arguments, unreadable or malformed files, undecodable payloads).

#![allow(clippy::disallowed_methods)] // The process edge may read the wall clock.

/// `println!` that does not panic when stdout is closed (`sim run ... | head -1`): the line is
/// dropped, and the command finishes and exits as it would have.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod output;
mod qr;
mod recon;
mod run;
mod serve;
mod swarm;
mod sweep;

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
    /// Run a scenario at a grid of load points (or search for the knee), with replications.
    Sweep(sweep::SweepArgs),
    /// A fault campaign: every seed draws its own faults, heals, and is checked.
    Swarm(swarm::SwarmArgs),
    /// Join the shards of a sweep, or of a swarm campaign, into one folder.
    Merge(sweep::MergeArgs),
    /// Two report folders' headline figures side by side, with significance.
    Compare(sweep::CompareArgs),
    /// Serve a scenario's network on loopback sockets: the payer API, ISO 8583 links, a journal.
    Serve(serve::ServeArgs),
    /// Send a scenario's traffic (or a fixed rate) to `sim serve`, open loop, and measure.
    Load(serve::LoadArgs),
    /// Work with a `sim serve` journal.
    Journal {
        #[command(subcommand)]
        command: serve::JournalCommand,
    },
    /// Make the participants' link keys and API tokens for `sim serve` and `sim load`.
    Keys {
        #[command(subcommand)]
        command: serve::KeysCommand,
    },
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
        Command::Sweep(args) => sweep::run(args),
        Command::Merge(args) => sweep::merge(args),
        Command::Swarm(args) => swarm::run(args),
        Command::Compare(args) => sweep::compare(args),
        Command::Serve(args) => serve::serve(args),
        Command::Load(args) => serve::load_run(args),
        Command::Journal { command } => serve::journal(command),
        Command::Keys { command } => serve::keys(command),
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

/// The largest scenario file, or encode spec, read: a real one is a few tens of kilobytes.
const SMALL_INPUT_BYTES_MAX: u64 = 4 << 20;
/// The largest clearing file read: ten million records is about 2 GB.
const CLEARING_FILE_BYTES_MAX: u64 = 4 << 30;

/// Reads a UTF-8 text file (or standard input for `-`), refusing one larger than `max` bytes
/// before it fills memory (a scenario "file" can be `/dev/zero`).
fn read_text(path: &std::path::Path, max: u64, what: &str) -> anyhow::Result<String> {
    use anyhow::Context;
    use std::io::Read;
    let shown = path.display();
    let mut bytes = Vec::new();
    let read = if path.as_os_str() == "-" {
        std::io::stdin().lock().take(max + 1).read_to_end(&mut bytes)
    } else {
        let file = std::fs::File::open(path).with_context(|| format!("reading {what} {shown}"))?;
        if let Ok(meta) = file.metadata()
            && meta.is_file()
            && meta.len() > max
        {
            anyhow::bail!(
                "{what} {shown} is {} bytes, more than the {max} this command reads",
                meta.len()
            );
        }
        file.take(max + 1).read_to_end(&mut bytes)
    };
    read.with_context(|| format!("reading {what} {shown}"))?;
    anyhow::ensure!(
        bytes.len() as u64 <= max,
        "{what} {shown} is more than the {max} bytes this command reads"
    );
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!("{what} {shown} is not UTF-8 text (byte {})", e.utf8_error().valid_up_to())
    })
}
