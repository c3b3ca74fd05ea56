//! Records the commit the binary is built from, for the report (`BAKONG_SIM_COMMIT`): from git,
//! or from `BAKONG_SIM_COMMIT` in the build's environment where there is no repository (a
//! container build from a source archive).

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs");
    println!("cargo:rerun-if-env-changed=BAKONG_SIM_COMMIT");
    let given = std::env::var("BAKONG_SIM_COMMIT")
        .ok()
        .filter(|c| !c.is_empty() && c.len() <= 40 && c.bytes().all(|b| b.is_ascii_hexdigit()));
    let commit = given
        .or_else(|| {
            Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .and_then(|o| String::from_utf8(o.stdout).ok())
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=BAKONG_SIM_COMMIT={commit}");
}
