//! Scenario files: the TOML format, parsed and checked.
//!
//! [`parse`] turns a file's text into a [`Scenario`] or a [`ScenarioError`] that names the
//! line, column and key path of what is wrong: a TOML syntax error, an unknown key (every table
//! refuses keys it does not know), a value of the wrong type, or an impossible value (a
//! negative rate, a p99 below its median, shares that do not sum to 100 %, a cut-off outside
//! the day). The format is documented in `scenarios/README.md`, and `scenarios/reference.toml`
//! sets every key; a test keeps the two in step with this module.
//!
//! Money and rates are decimal strings or integers, never floats. Shares, multipliers and
//! distribution shapes are numbers: they only shape random draws.

pub mod locate;
pub mod overrides;
mod schema;
pub mod topology;
pub mod validate;

pub use schema::*;

use locate::{Position, Step};

/// A scenario that cannot be used: where and what.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{}{message}", place(*line, *column, set.as_deref()), key_prefix(key))]
pub struct ScenarioError {
    /// Line, from 1 (0 when the problem is in a `--set` argument).
    pub line: usize,
    /// Column, from 1 (0 when the problem is in a `--set` argument).
    pub column: usize,
    /// The `--set KEY=VALUE` argument the problem is in, if it is in one.
    pub set: Option<String>,
    /// The key path, `flows.inward.hourly_shares_pct[3]` (empty for syntax errors).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

fn place(line: usize, column: usize, set: Option<&str>) -> String {
    match set {
        Some(arg) => format!("--set {arg}: "),
        None => format!("{line}:{column}: "),
    }
}

fn key_prefix(key: &str) -> String {
    if key.is_empty() { String::new() } else { format!("key `{key}`: ") }
}

/// An impossible value found by validation: its key path and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// Where.
    pub path: Vec<Step>,
    /// What.
    pub message: String,
}

/// A scenario file: the payment network, or a single M/M/c node.
#[derive(Clone, Debug)]
pub enum ScenarioFile {
    /// The payment network.
    Network(Box<Scenario>),
    /// An M/M/c node.
    Mmc(MmcScenario),
}

/// Parses either kind of scenario: a file with an `[mmc]` table is an M/M/c scenario.
///
/// # Errors
/// As [`parse`].
pub fn parse_file(text: &str) -> Result<ScenarioFile, ScenarioError> {
    let is_mmc = toml::de::DeTable::parse(text)
        .is_ok_and(|t| t.get_ref().iter().any(|(k, _)| k.get_ref() == "mmc"));
    if is_mmc {
        parse_as(text, validate::check_mmc).map(ScenarioFile::Mmc)
    } else {
        parse(text).map(|s| ScenarioFile::Network(Box::new(s)))
    }
}

/// Parses and checks a scenario's text.
///
/// # Errors
/// [`ScenarioError`] for the first problem found: syntax and type errors first (as `toml`
/// reports them), then impossible values in the order the format lists its tables.
pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    parse_as(text, validate::check)
}

fn parse_as<T: serde::de::DeserializeOwned>(
    text: &str,
    check: fn(&T) -> Result<(), Invalid>,
) -> Result<T, ScenarioError> {
    let scenario: T = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        let Position { line, column } = locate::position(text, offset);
        let key = locate::render(&locate::path_at(text, offset));
        ScenarioError { line, column, key, message: e.message().trim().to_string(), set: None }
    })?;
    if let Err(invalid) = check(&scenario) {
        let span = locate::span_of(text, &invalid.path).unwrap_or(0..0);
        let Position { line, column } = locate::position(text, span.start);
        return Err(ScenarioError {
            line,
            column,
            key: locate::render(&invalid.path),
            message: invalid.message,
            set: None,
        });
    }
    Ok(scenario)
}

#[cfg(test)]
mod tests;
