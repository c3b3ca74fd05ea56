//! What the integration tests share: running the built binary, and scratch folders.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `sim` with `args`, feeding `stdin` (empty when none), and waits for it.
pub(crate) fn sim(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sim runs");
    let mut input = child.stdin.take().expect("stdin");
    // A command that exits before reading its input closes the pipe; that is its business.
    let _ = input.write_all(stdin.unwrap_or("").as_bytes());
    drop(input);
    child.wait_with_output().expect("sim finishes")
}

/// A fresh, empty folder under the system's temporary folder, for one test.
pub(crate) fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("bakong-sim-it-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}
