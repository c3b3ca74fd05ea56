//! Where a key path is in a TOML text: line and column, for errors that name their place.
//!
//! Serde's errors carry a byte span; our own validation knows a key path
//! (`flows.inward.hourly_shares_pct[3]`). Both are turned into a line and column here, by
//! walking the spanned tree `toml` parses.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A line and column, both from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

/// The line and column of byte `offset` in `text`.
pub fn position(text: &str, offset: usize) -> Position {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Position { line, column: before[line_start..].chars().count() + 1 }
}

/// One step of a key path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A table key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// Renders a key path as `a.b[2].c`.
pub fn render(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The byte span of the value at `path` (or of its deepest existing ancestor), if the text
/// parses.
pub fn span_of(text: &str, path: &[Step]) -> Option<std::ops::Range<usize>> {
    let root = DeTable::parse(text).ok()?;
    let mut span = root.span();
    let mut value: Option<&Spanned<DeValue<'_>>> = None;
    let mut table: Option<&DeTable<'_>> = Some(root.get_ref());
    for step in path {
        let next = match (step, table, value.map(|v| v.get_ref())) {
            (Step::Key(k), Some(t), _) => t.iter().find(|(key, _)| key.get_ref() == k).map(|e| e.1),
            (Step::Index(i), None, Some(DeValue::Array(a))) => a.get(*i),
            _ => None,
        };
        let Some(next) = next else { break };
        span = next.span();
        table = match next.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => None,
        };
        value = Some(next);
    }
    Some(span)
}

/// The table header (`[a.b]` or `[[a.b]]`) governing `offset`: its dotted path, and for an
/// array of tables the element's index.
fn header_at(text: &str, offset: usize) -> Vec<Step> {
    let mut path = Vec::new();
    let mut counts: Vec<(String, usize)> = Vec::new();
    let mut position = 0;
    for line in text.split_inclusive('\n') {
        if position > offset {
            break;
        }
        // A comment after a header is not part of it (nor is one after a broken header).
        let trimmed = line.split('#').next().unwrap_or("").trim();
        let (inner, array) = if let Some(inner) = trimmed.strip_prefix("[[") {
            (inner.split("]]").next().unwrap_or(""), true)
        } else if let Some(inner) = trimmed.strip_prefix('[') {
            (inner.split(']').next().unwrap_or(""), false)
        } else {
            position += line.len();
            continue;
        };
        let name = inner.trim().to_string();
        path = name.split('.').map(|k| Step::Key(k.trim().trim_matches('"').to_string())).collect();
        if array {
            let count = match counts.iter_mut().find(|(n, _)| *n == name) {
                Some((_, c)) => {
                    *c += 1;
                    *c
                }
                None => {
                    counts.push((name, 0));
                    0
                }
            };
            path.push(Step::Index(count));
        }
        position += line.len();
    }
    path
}

fn contains(span: std::ops::Range<usize>, offset: usize) -> bool {
    span.start <= offset && offset < span.end
}

/// The key path of the deepest value whose span holds `offset`: the governing table header,
/// then keys and array indexes inside it.
pub fn path_at(text: &str, offset: usize) -> Vec<Step> {
    let Ok(root) = DeTable::parse(text) else { return header_at(text, offset) };
    let mut path = header_at(text, offset);
    // Walk to the header's table.
    let mut current: &DeTable<'_> = root.get_ref();
    let mut pending: Option<&Spanned<DeValue<'_>>> = None;
    for step in &path {
        let next = match (step, pending.map(|v| v.get_ref())) {
            (Step::Key(k), None) => current.iter().find(|(key, _)| key.get_ref() == k).map(|e| e.1),
            (Step::Key(k), Some(DeValue::Table(t))) => {
                t.iter().find(|(key, _)| key.get_ref() == k).map(|e| e.1)
            }
            (Step::Index(i), Some(DeValue::Array(a))) => a.get(*i),
            _ => None,
        };
        let Some(next) = next else { return path };
        pending = Some(next);
    }
    if let Some(v) = pending {
        match v.get_ref() {
            DeValue::Table(t) => current = t,
            _ => return path,
        }
    }
    loop {
        let found =
            current.iter().find(|(k, v)| contains(k.span(), offset) || contains(v.span(), offset));
        let Some((key, value)) = found else { return path };
        path.push(Step::Key(key.get_ref().to_string()));
        let mut value = value;
        while let DeValue::Array(items) = value.get_ref() {
            let Some((i, item)) =
                items.iter().enumerate().find(|(_, item)| contains(item.span(), offset))
            else {
                return path;
            };
            path.push(Step::Index(i));
            value = item;
        }
        match value.get_ref() {
            DeValue::Table(t) => current = t,
            _ => return path,
        }
    }
}
