//! `sim serve`, `sim journal check` and `sim keys generate`: the load tester's server side.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::run::load;
use super::{Outcome, SMALL_INPUT_BYTES_MAX, read_text};
use crate::load::journal;
use crate::load::serve::{self, KeyFile, ServeOptions};
use crate::scenario::ScenarioFile;

/// `sim serve`.
#[derive(Debug, Args)]
pub(super) struct ServeArgs {
    /// The scenario whose network to serve.
    file: PathBuf,
    /// The payer API's address (port 0: any free port; the address bound is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// Serve on an address that is not loopback.
    #[arg(long)]
    allow_remote: bool,
    /// The journal (SQLite): created if missing, recovered from if ours, refused otherwise.
    #[arg(long, default_value = "bakong-sim-journal.sqlite")]
    journal: PathBuf,
    /// Emulated delays run this many times faster than the scenario's.
    #[arg(long, default_value_t = 1.0)]
    speedup: f64,
    /// The participants' link keys and the originators' API tokens (`sim keys generate`).
    #[arg(long)]
    keys: PathBuf,
}

/// `sim journal`.
#[derive(Debug, Subcommand)]
pub(super) enum JournalCommand {
    /// Check a journal: prints JSON, exits 0 only when it is consistent.
    Check {
        /// The journal.
        path: PathBuf,
    },
}

/// `sim keys`.
#[derive(Debug, Subcommand)]
pub(super) enum KeysCommand {
    /// Make a new key file for a scenario's participants (refuses to overwrite a file).
    Generate {
        /// The scenario.
        file: PathBuf,
        /// The new key file.
        #[arg(long)]
        out: PathBuf,
    },
}

fn network(path: &std::path::Path) -> anyhow::Result<crate::scenario::Scenario> {
    match load(path, &[])?.0 {
        ScenarioFile::Network(s) => Ok(*s),
        ScenarioFile::Mmc(_) => {
            anyhow::bail!("{}: an M/M/c scenario has no network to serve", path.display())
        }
    }
}

pub(super) fn keys(command: KeysCommand) -> anyhow::Result<Outcome> {
    let KeysCommand::Generate { file, out } = command;
    let scenario = network(&file)?;
    let mut random = std::fs::File::open("/dev/urandom").context("opening /dev/urandom")?;
    let mut hex = |n: usize| -> anyhow::Result<String> {
        let mut bytes = vec![0u8; n];
        std::io::Read::read_exact(&mut random, &mut bytes).context("reading /dev/urandom")?;
        Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
    };
    let mut key_file = KeyFile { keys: Default::default(), tokens: Default::default() };
    for role in serve::roles(&scenario) {
        key_file.keys.insert(role.name(), hex(32)?);
        if serve::originates(role) {
            key_file.tokens.insert(role.name(), hex(24)?);
        }
    }
    let text = toml::to_string(&key_file).context("writing the key file")?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(&out).with_context(|| {
        format!("creating {} (an existing file is never overwritten)", out.display())
    })?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", out.display()))?;
    say!("wrote {} ({} participants)", out.display(), key_file.keys.len());
    Ok(Outcome::Success)
}

pub(super) fn read_keys(path: &std::path::Path) -> anyhow::Result<KeyFile> {
    let text = read_text(path, SMALL_INPUT_BYTES_MAX, "key file")?;
    toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("key file {}: {}", path.display(), e.to_string().trim()))
}

pub(super) fn serve(args: ServeArgs) -> anyhow::Result<Outcome> {
    anyhow::ensure!(
        args.speedup.is_finite() && args.speedup > 0.0 && args.speedup <= 1e6,
        "--speedup must be above 0 and at most 1000000"
    );
    let scenario = network(&args.file)?;
    let keys = read_keys(&args.keys)?;
    let options = ServeOptions {
        listen: args.listen,
        allow_remote: args.allow_remote,
        journal: args.journal,
        speedup: args.speedup,
        keys,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        serve::serve(
            &scenario,
            options,
            |running| {
                say!("listening on http://{}", running.api);
                if running.recovered_open > 0 {
                    eprintln!(
                        "recovered {} open payments from the journal: reversing them",
                        running.recovered_open
                    );
                }
            },
            stop,
        )
        .await
    })?;
    Ok(Outcome::Success)
}

pub(super) fn journal(command: JournalCommand) -> anyhow::Result<Outcome> {
    let JournalCommand::Check { path } = command;
    anyhow::ensure!(path.is_file(), "{}: no such journal file", path.display());
    let report = journal::check(&path)?;
    say!("{}", serde_json::to_string_pretty(&report).context("JSON")?);
    Ok(if report.ok() { Outcome::Success } else { Outcome::Negative })
}
