//! `--set KEY=VALUE`: a scenario file with some of its keys replaced, checked as if the file
//! said so.
//!
//! KEY is the dotted TOML path of the key (`nodes.bakong_switch.servers`,
//! `flows.inward.hourly_shares_pct[20]`); VALUE is a TOML value (`8`, `2.5`, `"6.95"`,
//! `[15, 80]`, `{ dist = "constant", ms = 4 }`), and a bare word that is not one is taken as a
//! string (`meta.name=peak-test`). Tables on the path that the file lacks are created
//! (`load.multiplier=2.5` works on a file without `[load]`); array items must exist.
//!
//! The edited document is then parsed and validated like any file. An error at or under an
//! overridden key names the `--set` argument; any other error keeps its place in the file.

use super::locate::{self, Position, Step};
use super::{ScenarioError, ScenarioFile, parse_file};

/// Most `--set` arguments one command takes.
pub const OVERRIDES_MAX: usize = 256;

/// One `--set KEY=VALUE`.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    /// The argument as given, for messages and reports.
    pub arg: String,
    /// KEY, parsed.
    pub path: Vec<Step>,
    /// VALUE, parsed.
    pub value: toml::Value,
}

/// A `--set` argument that cannot be used, before any scenario is read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("--set {arg}: {message}")]
pub struct OverrideError {
    /// The argument.
    pub arg: String,
    /// What is wrong.
    pub message: String,
}

impl Override {
    /// Parses `KEY=VALUE`.
    ///
    /// # Errors
    /// [`OverrideError`] for a missing `=`, an empty or malformed key.
    pub fn parse(arg: &str) -> Result<Override, OverrideError> {
        let fail = |message: &str| OverrideError { arg: arg.into(), message: message.into() };
        let Some((key, value)) = arg.split_once('=') else {
            return Err(fail("expected KEY=VALUE, e.g. nodes.bakong_switch.servers=8"));
        };
        let path = parse_key(key.trim()).ok_or_else(|| {
            fail("KEY is a dotted path of names and [index]es, e.g. flows.inward.daily_payments")
        })?;
        let value = value.trim();
        let value = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.to_string()));
        Ok(Override { arg: arg.to_string(), path, value })
    }

    /// KEY as the errors render key paths.
    pub fn key(&self) -> String {
        locate::render(&self.path)
    }
}

/// `a.b[2].c` as steps; `None` when it is not such a path.
fn parse_key(key: &str) -> Option<Vec<Step>> {
    let mut path = Vec::new();
    for part in key.split('.') {
        let (name, mut rest) = part.split_once('[').map_or((part, ""), |(n, r)| (n, r));
        let name_ok = !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !name_ok {
            return None;
        }
        path.push(Step::Key(name.to_string()));
        while !rest.is_empty() {
            let (index, after) = rest.split_once(']')?;
            path.push(Step::Index(index.parse().ok()?));
            rest = after.strip_prefix('[').unwrap_or(after);
            if !after.is_empty() && !after.starts_with('[') {
                return None;
            }
        }
    }
    Some(path)
}

/// Parses a scenario file with `overrides` applied in order (a later one wins).
///
/// # Errors
/// [`ScenarioError`]: with `set` naming the argument when the problem is at or under an
/// overridden key (or the override cannot be applied), else located in `text`.
pub fn parse_file_with(text: &str, overrides: &[Override]) -> Result<ScenarioFile, ScenarioError> {
    if overrides.is_empty() {
        return parse_file(text);
    }
    if overrides.len() > OVERRIDES_MAX {
        return Err(set_error(&overrides[OVERRIDES_MAX], String::new(), "too many --set"));
    }
    let mut root = match toml::from_str::<toml::Table>(text) {
        Ok(doc) => toml::Value::Table(doc),
        // A file that is not TOML: its own error, located in it.
        Err(_) => return parse_file(text),
    };
    for o in overrides {
        apply(&mut root, o)?;
    }
    let edited = toml::to_string(&root).map_err(|e| set_error(&overrides[0], String::new(), e))?;
    parse_file(&edited).map_err(|e| {
        let under = |o: &&Override| {
            let k = o.key();
            e.key == k || e.key.starts_with(&format!("{k}.")) || e.key.starts_with(&format!("{k}["))
        };
        match overrides.iter().rev().find(under) {
            Some(o) => set_error(o, e.key, e.message),
            None => relocate(text, e),
        }
    })
}

/// The number at `key` in a scenario file with `overrides` applied; `None` when the key is
/// absent (its default applies), not a number, or the file is not TOML.
pub fn number_at(text: &str, overrides: &[Override], key: &str) -> Option<f64> {
    let mut root = toml::Value::Table(toml::from_str::<toml::Table>(text).ok()?);
    for o in overrides {
        apply(&mut root, o).ok()?;
    }
    let mut here = &root;
    for step in parse_key(key)? {
        here = match (step, here) {
            (Step::Key(k), toml::Value::Table(t)) => t.get(&k)?,
            (Step::Index(i), toml::Value::Array(a)) => a.get(i)?,
            _ => return None,
        };
    }
    match here {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) => Some(*f),
        _ => None,
    }
}

fn set_error(o: &Override, key: String, message: impl ToString) -> ScenarioError {
    ScenarioError {
        line: 0,
        column: 0,
        key,
        message: message.to_string(),
        set: Some(o.arg.clone()),
    }
}

/// An error found in the edited document, placed where its key is in the original file.
fn relocate(text: &str, e: ScenarioError) -> ScenarioError {
    let offset = parse_key(&e.key)
        .and_then(|path| locate::span_of(text, &path))
        .map_or(0, |span| span.start);
    let Position { line, column } = locate::position(text, offset);
    ScenarioError { line, column, ..e }
}

fn apply(root: &mut toml::Value, o: &Override) -> Result<(), ScenarioError> {
    let fail = |message: String| set_error(o, o.key(), message);
    let not_table = |k: &str| fail(format!("`{k}` is inside a value that is not a table"));
    let not_array = |i: usize| fail(format!("[{i}] indexes a value that is not an array"));
    let (last, walk) = o.path.split_last().expect("a parsed key has a step");
    let mut here = root;
    for step in walk {
        here = match (step, here) {
            (Step::Key(k), toml::Value::Table(t)) => {
                t.entry(k.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()))
            }
            (Step::Index(i), toml::Value::Array(a)) => {
                let len = a.len();
                a.get_mut(*i).ok_or_else(|| fail(format!("no item [{i}]: it has {len}")))?
            }
            (Step::Key(k), _) => return Err(not_table(k)),
            (Step::Index(i), _) => return Err(not_array(*i)),
        };
    }
    match (last, here) {
        (Step::Key(k), toml::Value::Table(t)) => {
            t.insert(k.clone(), o.value.clone());
        }
        (Step::Index(i), toml::Value::Array(a)) => {
            let len = a.len();
            *a.get_mut(*i).ok_or_else(|| fail(format!("no item [{i}]: it has {len}")))? =
                o.value.clone();
        }
        (Step::Key(k), _) => return Err(not_table(k)),
        (Step::Index(i), _) => return Err(not_array(*i)),
    }
    Ok(())
}
