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

mod mutations {
    //! Goal: no edit of a real scenario makes the parser panic, and every error points inside
    //! the file. Method: property test over the reference scenario with a line deleted, a
    //! character replaced, or the text cut short.

    use proptest::prelude::*;

    use crate::scenario::parse_file;

    const REFERENCE: &str = include_str!("../../scenarios/reference.toml");

    fn check(text: &str) {
        if let Err(e) = parse_file(text) {
            let lines = text.split('\n').count();
            assert!(e.line >= 1 && e.line <= lines, "line {} of {lines}: {e}", e.line);
            assert!(e.column >= 1, "{e}");
            assert!(!e.message.is_empty(), "{e}");
        }
    }

    proptest! {
        #![proptest_config(crate::testing::proptest_config(64))]

        #[test]
        fn deleting_a_line_is_handled(line in 0usize..200) {
            let text: Vec<&str> = REFERENCE.lines().collect();
            let i = line % text.len();
            let edited: Vec<&str> = text.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, l)| *l).collect();
            check(&edited.join("\n"));
        }

        #[test]
        fn replacing_a_character_is_handled(at in 0usize..20_000, c in prop::sample::select(vec!['=', '[', ']', '"', '-', '0', 'x', '#', ',', '.', '{'])) {
            let mut chars: Vec<char> = REFERENCE.chars().collect();
            let i = at % chars.len();
            chars[i] = c;
            check(&chars.into_iter().collect::<String>());
        }

        #[test]
        fn cutting_the_text_is_handled(at in 0usize..20_000) {
            let mut cut = at % REFERENCE.len();
            while !REFERENCE.is_char_boundary(cut) {
                cut -= 1;
            }
            check(&REFERENCE[..cut]);
        }
    }
}
