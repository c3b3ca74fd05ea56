//! Goal: positions and key paths point at the right place, for serde's errors (unknown keys,
//! wrong types, inside headers, inline tables and arrays of tables) and for validation.
//! Method: small documents with known places; the full format is tested in `tests/it`.

use super::locate::{Step, path_at, position, render, span_of};

fn check(text: &str, needle: &str, expected: &str) {
    let offset = text.find(needle).expect("needle in text");
    assert_eq!(render(&path_at(text, offset)), expected, "at {needle:?}");
}

#[test]
fn key_paths_follow_headers_inline_tables_and_arrays() {
    let text = "[meta]\nname = \"x\"\nsed = 1\n\n[nodes]\nupi = { servers = 2, queue_max = 3 }\n\n[[w]]\na = 1\n[[w]]\nb = [1, 2, 3]\n";
    check(text, "sed", "meta.sed");
    check(text, "queue_max", "nodes.upi.queue_max");
    check(text, "a = 1", "w[0].a");
    check(text, "3]", "w[1].b[2]");
}

#[test]
fn positions_count_lines_and_characters_from_one() {
    let text = "a = 1\n\"bé\" = 2\n";
    assert_eq!(position(text, 0).line, 1);
    let at = text.find('2').expect("2");
    let p = position(text, at);
    assert_eq!((p.line, p.column), (2, 8));
    let span = span_of(text, &[Step::Key("bé".into())]).expect("parses");
    assert_eq!(position(text, span.start).line, 2);
}
