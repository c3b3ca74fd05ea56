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
    assert!(!message.is_empty(), "an empty expected text matches anything");
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
        ("targets = [\"cn_acquirer\"]\ncrash = true", "targets = [\"cn_backbone\"]\ncrash = true"),
        "windows[1].targets",
        "a crash window targets nodes",
    );
    check(
        ("duplicate_pct = 0.5", "duplicate_pct = 100.5"),
        "windows[0].duplicate_pct",
        "percentage",
    );
    check(
        ("scheme_clock_skew_ms = 0", "scheme_clock_skew_ms = 3600001"),
        "exceptions.scheme_clock_skew_ms",
        "at most 3600000 ms",
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
fn bad_routes_nodes_and_distributions_name_their_key() {
    let inward = "\"upi\", \"regional_hub\", \"bakong_gateway\"";
    check(
        (inward, "\"upi\", \"regional_hubb\", \"bakong_gateway\""),
        "routes.inward.nodes[2]",
        "not in [nodes]",
    );
    check(
        (
            "[\"kh_bank\", \"bakong_switch\", \"kh_bank\"]",
            "[\"bakong_switch\", \"bakong_switch\", \"kh_bank\"]",
        ),
        "routes.domestic.nodes",
        "a domestic route starts at kh_bank and ends at kh_bank",
    );
    check(
        (
            "[\"payer_app\", \"kh_backbone\", \"kh_backbone\"]\nscheme = \"bakong_switch\"",
            "[\"payer_app\", \"kh_backbone\"]\nscheme = \"bakong_switch\"",
        ),
        "routes.domestic.links",
        "needs one link per node: 3",
    );
    check(
        ("\"bakong_gateway\", \"upi\", \"cn_acquirer\"]", "\"kh_bank\", \"upi\", \"cn_acquirer\"]"),
        "routes.outward.nodes[2]",
        "only the first and last nodes may be participants'",
    );
    check(
        (
            "\"bakong_gateway\", \"upi\", \"cn_issuer\"]",
            "\"bakong_gateway\", \"regional_hub\", \"cn_issuer\"]",
        ),
        "routes.remittance.nodes",
        "passes upi exactly once",
    );
    check(
        ("scheme = \"upi\"\ncredit = \"kh_bank\"", "scheme = \"bakong_switch\"\ncredit = \"upi\""),
        "routes.inward.scheme",
        "no later than the credit",
    );
    check(
        (
            "regional_hub   = {",
            "spare = { servers = 1, queue_max = 0, service_ms = [1, 2] }\nregional_hub   = {",
        ),
        "nodes.spare",
        "is on no flow's route",
    );
    check(("regional_hub   = {", "Regional_hub   = {"), "nodes.Regional_hub", "lower-case letters");
    check(
        (
            "service = { dist = \"exponential\", mean_ms = 60 }",
            "service_ms = [1, 2], service = { dist = \"exponential\", mean_ms = 60 }",
        ),
        "nodes.cn_acquirer",
        "needs exactly one of service_ms and service",
    );
    check(("mean_ms = 60", "mean_ms = 0"), "nodes.cn_acquirer.service.mean_ms", "must be above 0");
    check(
        ("[99, 40], [100, 90]", "[99, 40], [99.5, 90]"),
        "links.hub_link.latency.points",
        "the last point's cumulative share must be 100",
    );
    check(("[90, 15]", "[90, 5]"), "links.hub_link.latency.points[1]", "the delays do not fall");
    check(
        ("dist = \"constant\"", "dist = \"uniform\""),
        "nodes.regional_hub.service.dist",
        "unknown variant",
    );
    check(("ms = 4 }", "ms = 4, mean_ms = 3 }"), "nodes.regional_hub.service", "unknown field");
    // A standard node missing: the error names the table.
    let text = REFERENCE.replacen("cn_acquirer    = {", "cn_acquirerr   = {", 1);
    let e = scenario::parse(&text).expect_err("a standard node is missing");
    assert_eq!(e.key, "nodes", "{e}");
    assert!(e.message.contains("needs [nodes.cn_acquirer]"), "{e}");
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

/// Tables whose keys are names the scenario chooses.
const MAP_TABLES: [&str; 2] = ["nodes", "links"];

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
        if MAP_TABLES.contains(&path.as_str()) {
            // Named entries, not keys: an unknown name is a node or link of its own, and must
            // be on a route (tested with the bad scenarios).
            continue;
        }
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
        // A distribution's `dist` names its kind; the rest are its parameters.
        let keys: Vec<&String> = keys.iter().filter(|k| *k != "dist").collect();
        for key in &keys {
            assert!(expected.contains(key), "{path}.{key} is set but the parser does not know it");
        }
        let entry = by_type.entry(expected).or_insert_with(|| (path.clone(), Vec::new()));
        entry.1.extend(keys.iter().map(|k| (*k).clone()));
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

/// Goal: the shipped scenarios ask for the daily volumes `docs/calibration.md` says, with its
/// sources. Method: every row of its volume table against the scenario's resolved arrival
/// curve for that local day (first attempts, before any draw), to 0.1 %; every shipped network
/// scenario has a row (or is a window of a day, which the file names).
#[test]
fn the_calibration_table_is_what_the_scenarios_ask_for() {
    let doc = include_str!("../../docs/calibration.md");
    let table = doc.split("## Daily volumes").nth(1).expect("a volume section");
    let table = table.split("\n## ").next().expect("its text");
    let root = env!("CARGO_MANIFEST_DIR");
    let mut rows = 0;
    let mut seen = std::collections::BTreeSet::new();
    for line in table.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| scenario")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let [_, scenario, flow, day, target, _source, _] = cells[..] else { continue };
        let Ok(target) = target.parse::<f64>() else { continue };
        let path = format!("{root}/scenarios/{scenario}.toml");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let s = scenario::parse(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        let days = bakong_sim::sim::world::expected_days(&s);
        let d = days
            .iter()
            .find(|d| d.flow.name() == flow && d.date.to_string() == day)
            .unwrap_or_else(|| panic!("{scenario}: no {flow} traffic on {day}"));
        assert_eq!(d.minutes, 1440, "{scenario} {flow} {day}: the table holds whole days");
        assert!(
            (d.payments / target - 1.0).abs() < 0.001,
            "{scenario} {flow} {day}: the scenario asks for {:.1}, docs/calibration.md says {target}",
            d.payments
        );
        seen.insert(scenario.to_string());
        rows += 1;
    }
    assert!(rows >= 16, "{rows} rows read");
    for name in [
        "chinese-new-year",
        "normal-weekday",
        "liquidity-squeeze",
        "upi-link-outage",
        "fx-shock",
        "month",
    ] {
        assert!(seen.contains(name), "docs/calibration.md has no volume of {name}");
    }
    for name in ["growth-10x", "retry-storm", "corridor-hub"] {
        assert!(doc.contains(&format!("`{name}`")), "docs/calibration.md does not name {name}");
    }
}
