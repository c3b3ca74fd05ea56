//! Goal: bad scenario files are refused with the file's line, column and key path, and the
//! format's three descriptions (the parser, `scenarios/reference.toml`, `scenarios/README.md`)
//! stay in step. Method: one `check` per broken file (an edit of the reference scenario),
//! and, for every table of the reference, the parser's own list of the table's keys (it names
//! them when refusing an unknown one) compared with the keys the reference sets and the
//! README documents.

use bakong_sim::scenario::{self, ScenarioError};

const REFERENCE: &str = include_str!("../../scenarios/reference.toml");
const README: &str = include_str!("../../scenarios/README.md");

/// Applies `edit` (from, to) to the reference and expects an error at `key` whose message
/// contains `message`, on the line where `key`'s value (or the broken text) is.
fn check(edit: (&str, &str), key: &str, message: &str) {
    assert!(REFERENCE.contains(edit.0), "edit target {:?} not in the reference", edit.0);
    let text = REFERENCE.replacen(edit.0, edit.1, 1);
    let error: ScenarioError = match scenario::parse(&text) {
        Ok(_) => panic!("{edit:?} was accepted"),
        Err(e) => e,
    };
    assert_eq!(error.key, key, "{edit:?}: {error}");
    assert!(error.message.contains(message), "{edit:?}: message {:?}", error.message);
    let offset = text.find(edit.1).expect("edited text present");
    let line = text[..offset].matches('\n').count() + 1;
    assert!(
        error.line >= line && error.line <= line + edit.1.matches('\n').count(),
        "{edit:?}: line {} is not where the edit is ({line})",
        error.line
    );
    assert!(error.column >= 1);
}

#[test]
fn bad_files_name_line_column_and_key() {
    check(("seed = 20260217", "sed = 20260217"), "meta.sed", "unknown field");
    check(("servers = 256", "servers = -1"), "nodes.upi.servers", "expected u32");
    check(
        ("service_ms = [25, 120]", "service_ms = [25, 12]"),
        "nodes.upi.service_ms",
        "below the median",
    );
    check(
        ("usd_cny = \"6.9457\"", "usd_cny = \"-6.9\""),
        "fx.usd_cny",
        "is not a decimal rate from 0.0001 to 1000000",
    );
    check(("usd_cny = \"6.9457\"", "usd_cny = 6.9457"), "fx.usd_cny", "string");
    check(
        (
            "bakong_cutoffs = [\"12:00\", \"16:30\", \"24:00\"]",
            "bakong_cutoffs = [\"12:00\", \"16:30\", \"24:30\"]",
        ),
        "settlement.bakong_cutoffs",
        "cut-offs rise through the day",
    );
    check(
        (
            "hourly_shares_pct = [1.0, 0.5, 0.3, 0.2, 0.3, 1.2,",
            "hourly_shares_pct = [9.0, 0.5, 0.3, 0.2, 0.3, 1.2,",
        ),
        "flows.inward.hourly_shares_pct",
        "not 100 %",
    );
    check(("loss_pct = 1.0", "loss_pct = 101.0"), "links.wan.loss_pct", "percentage");
    check(
        ("targets = [\"wan\"]", "targets = [\"wann\"]"),
        "windows[0].targets",
        "not a node or link",
    );
    check(
        ("pin_failure = 0.6", "pin_failur = 0.6"),
        "flows.inward.failures_pct.pin_failur",
        "unknown field",
    );
    check(
        ("metric = \"latency_ms_p99\"", "metric = \"latency_p99\""),
        "slo[0].metric",
        "not one of",
    );
    check(
        ("currency = \"KHR\"", "currency = \"THB\""),
        "flows.inward.amounts[0].currency",
        "inward amounts are in KHR",
    );
    check(("hold_minutes = 30", "hold_minutes = 1"), "timeouts.hold_minutes", "outlive");
    check(("[nodes]", "[nodes"), "nodes", "unclosed table");
}

#[test]
fn truncated_file_is_a_syntax_error_with_its_line() {
    let cut = &REFERENCE[..REFERENCE.find("[links]").expect("links") + 3];
    let e = scenario::parse(cut).expect_err("truncated");
    assert_eq!(e.line, cut.matches('\n').count() + 1, "{e}");
}

/// Every table path of a TOML document (array elements included), with the keys it sets.
fn tables(value: &toml::Value, path: String, out: &mut Vec<(String, Vec<String>)>) {
    match value {
        toml::Value::Table(t) => {
            out.push((path.clone(), t.keys().cloned().collect()));
            for (k, v) in t {
                let child = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                tables(v, child, out);
            }
        }
        toml::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if item.is_table() {
                    tables(item, format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

fn insert_unknown(doc: &mut toml::Value, path: &str) {
    let mut v = doc;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, index) = match part.split_once('[') {
            Some((k, i)) => (k, i.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        v = v.get_mut(key).expect("path exists");
        if let Some(i) = index {
            v = v.get_mut(i).expect("element");
        }
    }
    v.as_table_mut().expect("a table").insert("zzz_unknown".into(), toml::Value::Integer(1));
}

#[test]
fn reference_sets_every_key_and_the_readme_documents_it() {
    scenario::parse(REFERENCE).expect("the reference scenario is valid");
    let doc: toml::Value = toml::from_str(REFERENCE).expect("TOML");
    let mut all = Vec::new();
    tables(&doc, String::new(), &mut all);
    // Tables of one type (the four flows, say) share the parser's key list; between them they
    // must set every key.
    let mut by_type: std::collections::BTreeMap<Vec<String>, (String, Vec<String>)> =
        Default::default();
    for (path, keys) in &all {
        let mut edited = doc.clone();
        insert_unknown(&mut edited, path);
        let text = toml::to_string(&edited).expect("serialise");
        let error = scenario::parse(&text).expect_err("unknown key refused");
        let expected: Vec<String> = error
            .message
            .split("expected")
            .nth(1)
            .unwrap_or("")
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect();
        assert!(!expected.is_empty(), "{path}: no key list in {:?}", error.message);
        for key in keys {
            assert!(expected.contains(key), "{path}.{key} is set but the parser does not know it");
        }
        let entry = by_type.entry(expected).or_insert_with(|| (path.clone(), Vec::new()));
        entry.1.extend(keys.iter().cloned());
    }
    let mut checked = 0;
    for (expected, (path, set)) in &by_type {
        for field in expected {
            assert!(
                set.contains(field),
                "reference.toml does not set `{field}` in any `{path}`-like table"
            );
            let documented =
                [format!("`{field}`"), format!("`[{field}]`"), format!("`[[{field}]]`")]
                    .iter()
                    .any(|form| README.contains(form.as_str()));
            assert!(documented, "scenarios/README.md does not document `{field}` ({path})");
            checked += 1;
        }
    }
    assert!(checked > 90, "only {checked} keys checked");
}
