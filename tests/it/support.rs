//! What the integration tests share: running the built binary and the project's test scripts, and
//! scratch folders.

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

/// Runs one of the project's test scripts with the binary under test, from the repository's
/// root; it must succeed and print its verdict (`: ok: `).
pub(crate) fn script(path: &str, program: Option<&str>) {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut command = match program {
        Some(p) => {
            let mut c = Command::new(p);
            c.arg(format!("{root}/{path}"));
            c
        }
        None => Command::new(format!("{root}/{path}")),
    };
    let out = command.arg(env!("CARGO_BIN_EXE_sim")).current_dir(root).output().expect("runs");
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{path} failed ({}):\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains(": ok: "), "{path} said no verdict:\n{stdout}\n{stderr}");
}
