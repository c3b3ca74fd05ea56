//! Goal: the layering and house rules in ARCHITECTURE.md hold, so that they cannot drift.
//!
//! Method: scan `src/` as text. `payments` imports no other layer, does no I/O, reads no clock
//! and uses no floats; `sim` reads no clock, does no I/O and uses no threads or tokio; `record`
//! imports only `payments`; `report` reads only the record (not `sim`), does no I/O and reads no
//! clock; only `cli` uses anyhow; every module starts with a `//!` doc.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources(sub: &str) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(sub), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("utf-8 source");
            (p, text)
        })
        .collect()
}

/// Lines of code outside `#[cfg(test)]` files and comments.
fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim_start).filter(|l| !l.starts_with("//"))
}

/// Asserts that no code line of `layer` (tests files aside) contains a `banned` word.
fn assert_layer_avoids(layer: &str, what: &str, banned: &[&str]) -> usize {
    let files = sources(layer);
    for (path, text) in &files {
        if path.ends_with("tests.rs") {
            continue;
        }
        for line in code_lines(text) {
            for word in banned {
                assert!(!line.contains(word), "{}: `{word}` in {what}: {line}", path.display());
            }
        }
    }
    files.len()
}

#[test]
fn payments_is_pure() {
    let banned = [
        "crate::cli",
        "crate::sim",
        "crate::load",
        "crate::report",
        "std::fs",
        "std::net",
        "std::io::std",
        "SystemTime",
        "Instant",
        "f32",
        "f64",
        "anyhow",
        "tokio",
        "rand::",
        "println!",
        "eprintln!",
        "HashMap",
        "HashSet",
    ];
    assert!(
        assert_layer_avoids("payments", "the pure layer", &banned) >= 8,
        "payments sources found"
    );
}

#[test]
fn threads_are_started_only_by_the_capacity_layer() {
    let banned = ["thread::spawn", "thread::scope", "thread::Builder", "rayon"];
    let mut files = 0;
    for layer in ["payments", "scenario", "record", "sim", "report", "cli"] {
        files += assert_layer_avoids(layer, "a layer below or beside capacity", &banned);
    }
    assert!(files >= 40, "only {files} sources scanned");
    let capacity = sources("capacity");
    assert!(capacity.iter().any(|(_, text)| text.contains("thread::scope")), "capacity runs them");
}

#[test]
fn sim_runs_in_virtual_time() {
    let banned = [
        "SystemTime",
        "Instant",
        "tokio",
        "std::thread",
        "crate::cli",
        "crate::report",
        "std::fs",
        "std::net",
        "println!",
        "eprintln!",
        "HashMap",
        "HashSet",
        "rand::",
    ];
    assert!(assert_layer_avoids("sim", "the simulator", &banned) >= 4, "sim sources found");
}

#[test]
fn report_renders_without_io() {
    let banned = [
        "std::fs",
        "std::net",
        "SystemTime::now",
        "Instant",
        "tokio",
        "std::thread",
        "crate::cli",
        "crate::sim",
        "crate::load",
        "println!",
        "eprintln!",
        "HashMap",
        "HashSet",
    ];
    assert!(
        assert_layer_avoids("report", "the report layer", &banned) >= 4,
        "report sources found"
    );
}

#[test]
fn the_record_is_data_that_any_layer_can_write() {
    let banned = [
        "crate::sim",
        "crate::report",
        "crate::cli",
        "crate::load",
        "std::fs",
        "std::net",
        "SystemTime",
        "Instant",
        "tokio",
        "println!",
        "HashMap",
        "HashSet",
    ];
    assert!(assert_layer_avoids("record", "the run record", &banned) >= 3, "record sources found");
}

#[test]
fn only_cli_uses_anyhow() {
    let mut all = Vec::new();
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut all);
    for path in all {
        let text = std::fs::read_to_string(&path).expect("source");
        let in_cli = path.components().any(|c| c.as_os_str() == "cli");
        if !in_cli {
            assert!(!code_lines(&text).any(|l| l.contains("anyhow")), "{}", path.display());
        }
    }
}

#[test]
fn every_module_starts_with_a_doc_comment() {
    for (path, text) in sources("") {
        assert!(text.starts_with("//!"), "{} must start with a //! module doc", path.display());
    }
}

#[test]
fn real_time_parts_stay_in_the_load_layer() {
    let banned = ["tokio", "rusqlite", "hyper", "std::net"];
    let mut files = 0;
    for layer in ["payments", "scenario", "record", "sim", "report", "capacity"] {
        files +=
            assert_layer_avoids(layer, "a layer that runs without sockets or a database", &banned);
    }
    assert!(files >= 40, "only {files} sources scanned");
    let load = sources("load");
    assert!(load.iter().any(|(_, text)| text.contains("rusqlite")), "the journal lives in load");
    assert!(load.iter().all(|(_, text)| !text.contains("anyhow")), "load reports typed errors");
}
