//! Goal: a command never deletes or overwrites what it did not write, and a report folder holds
//! one whole report at every instant: before, during and after a replacement, through a crash
//! at any step, and when two runs target it at once.
//!
//! Method: run the built binary in a scratch folder against each kind of target (missing,
//! empty, a report of ours, someone else's files, a file, a link, the current folder), then
//! crash it on purpose at every step of its write (`BAKONG_SIM_FAULT_STEP`) and with `kill -9`
//! at moments spread over the write, and check after each that the folder is one whole report
//! (every file its manifest lists, with the listed hash, nothing else, one seed throughout).

// These tests drive real processes in wall time (how long a write runs, when to kill it).
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

const SMALL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/small.toml");
const MANIFEST: &str = "bakong-sim-manifest.json";

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bakong-sim-out-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn sim_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sim"));
    command.current_dir(dir).args(args).stdin(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("sim runs")
}

fn run_small(dir: &Path, out: &str, seed: u64) -> Output {
    sim_in(dir, &["run", SMALL, "--quiet", "--seed", &seed.to_string(), "--out", out], &[])
}

/// The run finished and wrote its report: exit 0, or 1 when an SLO failed (which depends on
/// the seed, not on the folder).
fn finished(o: &Output) -> bool {
    matches!(o.status.code(), Some(0 | 1))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("readable") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).expect("inside").display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// The folder is one whole report: its manifest lists exactly the files present, each with its
/// hash, and every seed it carries is the same. Returns the seed.
fn whole_report(dir: &Path) -> Result<u64, String> {
    let text = std::fs::read_to_string(dir.join(MANIFEST)).map_err(|e| format!("manifest: {e}"))?;
    let manifest: Value = serde_json::from_str(&text).map_err(|e| format!("manifest: {e}"))?;
    let listed = manifest["files"].as_array().ok_or("no file list")?;
    let mut names: Vec<String> = vec![MANIFEST.into()];
    for f in listed {
        let path = f["path"].as_str().ok_or("path")?;
        let bytes = std::fs::read(dir.join(path)).map_err(|e| format!("{path}: {e}"))?;
        let hash: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        if Some(hash.as_str()) != f["sha256"].as_str() {
            return Err(format!("{path}: hash differs from the manifest"));
        }
        names.push(path.into());
    }
    names.sort();
    let present = files_under(dir);
    if present != names {
        return Err(format!("files {present:?} but the manifest lists {names:?}"));
    }
    let seed = manifest["seed"].as_u64().ok_or("seed")?;
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).expect("summary"))
            .map_err(|e| format!("summary: {e}"))?;
    if summary["seed"].as_u64() != Some(seed) {
        return Err(format!("summary seed {} but manifest seed {seed}", summary["seed"]));
    }
    Ok(seed)
}

/// Names in `dir` that look like our temporary or set-aside folders.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("readable")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".bakong-sim-") && (n.ends_with(".tmp") || n.ends_with(".old")))
        .collect()
}

#[test]
fn refuses_every_target_that_is_not_ours_and_changes_nothing() {
    let dir = scratch("refuse");
    std::fs::write(dir.join("precious.txt"), "mine").expect("write");
    std::fs::create_dir(dir.join("photos")).expect("mkdir");
    std::fs::write(dir.join("photos/.hidden"), "mine too").expect("write");
    std::fs::write(dir.join("a-file"), "not a folder").expect("write");
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.join("photos"), dir.join("link")).expect("symlink");
    let before = files_under(&dir);
    let cases: &[(&str, &str)] = &[
        (".", "is the current folder"),
        ("./", "is the current folder"),
        ("..", "names no folder of its own"),
        ("photos", "is not empty and holds no bakong-sim report (it has .hidden)"),
        ("a-file", "is a file, not a folder"),
        #[cfg(unix)]
        ("link", "is a symbolic link"),
    ];
    for (out, why) in cases {
        let o = run_small(&dir, out, 1);
        assert_eq!(o.status.code(), Some(2), "--out {out}: {}", stderr(&o));
        assert!(stderr(&o).contains(why), "--out {out}: {}", stderr(&o));
        assert!(stderr(&o).contains("nothing was changed"), "--out {out}: {}", stderr(&o));
        // Refused before the run: no report line on stdout.
        assert!(o.stdout.is_empty(), "--out {out} ran: {}", String::from_utf8_lossy(&o.stdout));
    }
    let after: Vec<String> =
        files_under(&dir).into_iter().filter(|f| !f.ends_with(".bakong-sim.lock")).collect();
    assert_eq!(after, before, "nothing was deleted or added");
    assert_eq!(std::fs::read_to_string(dir.join("precious.txt")).expect("kept"), "mine");
    // The current folder is refused even when it is empty.
    let empty = dir.join("empty-cwd");
    std::fs::create_dir(&empty).expect("mkdir");
    let o = run_small(&empty, ".", 1);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = run_small(&empty, "../empty-cwd", 1);
    assert!(stderr(&o).contains("is the current folder or holds it"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn writes_new_and_empty_folders_and_replaces_only_whole_reports_of_ours() {
    let dir = scratch("replace");
    // A missing folder (and its missing parent) is created; an empty one is used.
    let o = run_small(&dir, "reports/a", 1);
    assert!(finished(&o), "{}", stderr(&o));
    assert_eq!(whole_report(&dir.join("reports/a")), Ok(1));
    std::fs::create_dir(dir.join("empty")).expect("mkdir");
    let o = run_small(&dir, "empty", 2);
    assert!(!stderr(&o).contains("replaced"), "an empty folder is not a report: {}", stderr(&o));
    assert_eq!(whole_report(&dir.join("empty")), Ok(2));
    // A report of ours is replaced whole, trailing slash or not, and says so.
    let o = run_small(&dir, "reports/a/", 3);
    assert!(stderr(&o).contains("replaced the previous report in reports/a/"), "{}", stderr(&o));
    assert_eq!(whole_report(&dir.join("reports/a")), Ok(3));
    assert!(leftovers(&dir.join("reports")).is_empty());
    // A report with a file we did not write is refused, and the file stays.
    std::fs::write(dir.join("reports/a/notes.txt"), "my notes").expect("write");
    std::fs::create_dir(dir.join("reports/a/plots/mine")).expect("mkdir");
    let o = run_small(&dir, "reports/a", 4);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("files it did not write (notes.txt, plots/mine)"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(dir.join("reports/a/notes.txt")).expect("kept"), "my notes");
    // A manifest that lists a path outside its folder is not ours.
    let b = dir.join("reports/b");
    std::fs::create_dir_all(&b).expect("mkdir");
    std::fs::write(
        b.join(MANIFEST),
        r#"{"tool":"bakong-sim","manifest_version":1,"command":"run","commit":"x","files":[{"path":"../../precious","bytes":1,"sha256":"x"}]}"#,
    )
    .expect("write");
    let o = run_small(&dir, "reports/b", 1);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("holds no bakong-sim report"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn leftovers_of_interrupted_runs_are_restored_or_removed_and_said() {
    let dir = scratch("leftovers");
    assert!(finished(&run_small(&dir, "r", 1)));
    // A finished report set aside by an interrupted swap, with the folder itself gone: restored.
    std::fs::rename(dir.join("r"), dir.join(".r.bakong-sim-4242-0.old")).expect("rename");
    // An unfinished new report beside it: removed.
    assert!(finished(&run_small(&dir, "other", 2)));
    std::fs::rename(dir.join("other"), dir.join(".r.bakong-sim-4242-1.tmp")).expect("rename");
    std::fs::remove_file(dir.join(".r.bakong-sim-4242-1.tmp/summary.md")).expect("cut short");
    // And one holding a file we did not write: left alone.
    std::fs::create_dir(dir.join(".r.bakong-sim-4242-2.tmp")).expect("mkdir");
    std::fs::write(dir.join(".r.bakong-sim-4242-2.tmp/yours.txt"), "x").expect("write");
    let o = run_small(&dir, "r", 3);
    assert!(finished(&o), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("restored the previous report to r from"), "{err}");
    assert!(err.contains(".r.bakong-sim-4242-1.tmp, left by an interrupted run"), "{err}");
    assert!(err.contains("left") && err.contains("4242-2.tmp alone"), "{err}");
    assert!(err.contains("replaced the previous report in r"), "{err}");
    assert_eq!(whole_report(&dir.join("r")), Ok(3));
    assert_eq!(leftovers(&dir), [".r.bakong-sim-4242-2.tmp"]);
    assert!(dir.join(".r.bakong-sim-4242-2.tmp/yours.txt").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_runs_at_one_folder_take_turns_and_never_mix() {
    let dir = scratch("concurrent");
    let mut waited = 0;
    for round in 0..4u64 {
        let start = |seed: u64| {
            Command::new(env!("CARGO_BIN_EXE_sim"))
                .current_dir(&dir)
                .args(["run", SMALL, "--quiet", "--seed", &seed.to_string(), "--out", "shared"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("sim starts")
        };
        let first = start(10 + round);
        std::thread::sleep(Duration::from_millis(5));
        let second = start(20 + round);
        let (a, b) = (first.wait_with_output().expect("a"), second.wait_with_output().expect("b"));
        assert!(finished(&a), "{}", stderr(&a));
        assert!(finished(&b), "{}", stderr(&b));
        waited += usize::from(stderr(&a).contains("waiting") || stderr(&b).contains("waiting"));
        let seed = whole_report(&dir.join("shared")).expect("one whole report");
        assert!([10 + round, 20 + round].contains(&seed));
    }
    assert!(waited > 0, "the second run never had to wait: the test did not overlap them");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn recon_writes_both_outputs_or_neither() {
    use bakong_sim::payments::clearing::{ClearingRecord, write_clearing_file};
    let dir = scratch("recon-out");
    std::fs::write(dir.join("empty.csv"), write_clearing_file(&[] as &[ClearingRecord]))
        .expect("write");
    std::fs::create_dir(dir.join("taken")).expect("mkdir");
    std::fs::write(dir.join("taken/keep.txt"), "x").expect("write");
    let recon = |out: &str| {
        sim_in(&dir, &["recon", "--ours", "empty.csv", "--theirs", "empty.csv", "--out", out], &[])
    };
    let o = recon("taken");
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(files_under(&dir.join("taken")), ["keep.txt"]);
    let o = recon("day");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        files_under(&dir.join("day")),
        [MANIFEST, "recon-summary.csv", "reconciliation.csv"]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_crash_at_any_step_of_a_replacement_leaves_one_whole_report() {
    let dir = scratch("fault-steps");
    assert!(finished(&run_small(&dir, "r", 1)));
    let mut step = 1;
    loop {
        let n = step.to_string();
        let args = ["run", SMALL, "--quiet", "--seed", "2", "--out", "r"];
        let o = sim_in(&dir, &args, &[("BAKONG_SIM_FAULT_STEP", n.as_str())]);
        let seed = whole_report(&dir.join("r"))
            .unwrap_or_else(|e| panic!("after a crash at step {step}: {e}"));
        if finished(&o) {
            // Past the last step: the run finished.
            assert_eq!(seed, 2);
            break;
        }
        assert_eq!(o.status.code(), None, "step {step}: aborted: {}", stderr(&o));
        assert!(seed == 1 || seed == 2, "step {step}");
        // The next run tidies what this one left, and puts the old report back.
        let o = run_small(&dir, "r", 1);
        assert!(finished(&o), "after step {step}: {}", stderr(&o));
        assert_eq!(whole_report(&dir.join("r")), Ok(1), "after step {step}");
        assert!(leftovers(&dir).is_empty(), "after step {step}: {:?}", leftovers(&dir));
        step += 1;
        assert!(step < 200, "the write never finished");
    }
    assert!(step > 30, "only {step} steps: every file is a step");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kill_9_at_moments_spread_over_the_write_leaves_one_whole_report() {
    let dir = scratch("kill");
    assert!(finished(&run_small(&dir, "r", 1)));
    let mut killed_while_writing = 0;
    for round in 0..24u64 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sim"))
            .current_dir(&dir)
            .args(["run", SMALL, "--quiet", "--seed", &(100 + round).to_string(), "--out", "r"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sim starts");
        // Wait for the write to begin (its temporary folder appears), then let it go on for a
        // different span each round before the kill.
        let began = Instant::now();
        while leftovers(&dir).is_empty() && began.elapsed() < Duration::from_secs(20) {
            if child.try_wait().expect("status").is_some() {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        std::thread::sleep(Duration::from_micros(round * 400));
        let finished_first = child.try_wait().expect("status").is_some();
        let _ = child.kill();
        let _ = child.wait();
        killed_while_writing += usize::from(!finished_first);
        let seed = whole_report(&dir.join("r"))
            .unwrap_or_else(|e| panic!("after a kill in round {round}: {e}"));
        assert!(seed == 1 || seed >= 100, "round {round}: seed {seed}");
        let o = run_small(&dir, "r", 1);
        assert!(finished(&o), "round {round}: {}", stderr(&o));
        assert!(leftovers(&dir).is_empty(), "round {round}");
    }
    assert!(killed_while_writing >= 4, "only {killed_while_writing} kills landed in the write");
    let _ = std::fs::remove_dir_all(&dir);
}
