//! A swarm campaign's files: `swarm.json` (per seed the fault mix, the verdict and the marks;
//! a summary with the counts) and `summary.md`, with the command that replays each failing
//! seed.

use std::fmt::Write as _;

use super::RunMeta;
use crate::record::swarm::{Campaign, SeedOutcome};
use crate::record::{MARKS, Marks};

/// The command that replays one seed of the campaign.
pub fn replay_command(c: &Campaign, meta: &RunMeta, seed: u64) -> String {
    let mut cmd = format!("sim swarm {} --seeds {seed}..{seed}", meta.scenario_path);
    for o in &meta.overrides {
        write!(cmd, " --set '{o}'").expect("writing to a String");
    }
    if let Some(canary) = c.canary {
        write!(cmd, " --canary {canary}").expect("writing to a String");
    }
    cmd
}

/// Per mark: the seeds that hit it and the times it was hit over the campaign.
fn mark_totals(c: &Campaign) -> Vec<(u64, u64)> {
    MARKS
        .iter()
        .map(|m| {
            let counts = c.seeds.iter().map(|s| (m.count)(&s.marks));
            counts.fold((0, 0), |(seeds, total), n| (seeds + u64::from(n > 0), total + n))
        })
        .collect()
}

fn marks_json(m: &Marks) -> serde_json::Value {
    MARKS.iter().map(|k| (k.name.to_string(), serde_json::json!((k.count)(m)))).collect()
}

fn seed_json(c: &Campaign, meta: &RunMeta, s: &SeedOutcome) -> serde_json::Value {
    let faults: Vec<serde_json::Value> =
        s.faults.iter().map(|f| serde_json::json!({ "kind": f.kind, "what": f.what })).collect();
    let mut j = serde_json::json!({
        "seed": s.seed,
        "verdict": s.verdict.name(),
        "faults": faults,
        "overrides": s.overrides,
        "payments": s.payments_count,
        "marks": marks_json(&s.marks),
        "crash_lost_messages": s.marks.crash_lost_count,
    });
    if let Some(detail) = s.verdict.detail() {
        j["detail"] = detail.into();
        j["replay"] = replay_command(c, meta, s.seed).into();
    }
    j
}

/// `swarm.json`.
pub fn swarm_json(c: &Campaign, meta: &RunMeta) -> String {
    let totals = mark_totals(c);
    let marks: serde_json::Value = MARKS
        .iter()
        .zip(&totals)
        .map(|(m, &(seeds, total))| {
            (
                m.name.to_string(),
                serde_json::json!({ "seeds": seeds, "count": total, "means": m.means }),
            )
        })
        .collect();
    let failed: Vec<u64> = c.failed().map(|s| s.seed).collect();
    let j = serde_json::json!({
        "scenario": c.scenario,
        "scenario_path": meta.scenario_path,
        "scenario_hash": meta.scenario_hash,
        "overrides": meta.overrides,
        "commit": meta.commit,
        "seeds_from": c.seeds_from,
        "seeds_to": c.seeds_to,
        "shard": c.shard.map(|(i, n)| serde_json::json!({ "index": i, "count": n })),
        "canary": c.canary,
        "summary": {
            "seeds": c.seeds.len(),
            "clean": c.seeds.len() - failed.len(),
            "failed": failed,
            "marks": marks,
            "marks_never_hit": MARKS.iter().zip(&totals).filter(|(_, t)| t.0 == 0).map(|(m, _)| m.name).collect::<Vec<_>>(),
            "wall_seconds": meta.wall_seconds,
        },
        "seeds": c.seeds.iter().map(|s| seed_json(c, meta, s)).collect::<Vec<_>>(),
    });
    let mut text = serde_json::to_string_pretty(&j).expect("JSON of plain values");
    text.push('\n');
    text
}

/// `summary.md`.
pub fn summary_md(c: &Campaign, meta: &RunMeta) -> String {
    let mut out = String::new();
    let failed: Vec<&SeedOutcome> = c.failed().collect();
    let w = &mut out;
    let _ = writeln!(w, "# Swarm campaign: {}\n", c.scenario);
    let _ = writeln!(
        w,
        "Seeds {}..{}{}{}: {} run, {} clean, {} failed. Commit {}, wall {:.1} s.\n",
        c.seeds_from,
        c.seeds_to,
        c.shard.map_or(String::new(), |(i, n)| format!(" (shard {i}/{n})")),
        c.canary.map_or(String::new(), |k| format!(", canary `{k}` planted")),
        c.seeds.len(),
        c.seeds.len() - failed.len(),
        failed.len(),
        meta.commit,
        meta.wall_seconds
    );
    let _ = writeln!(
        w,
        "## Marks\n\n| mark | meaning | seeds that hit it | times |\n|---|---|---:|---:|"
    );
    let totals = mark_totals(c);
    for (m, (seeds, total)) in MARKS.iter().zip(&totals) {
        let _ = writeln!(w, "| `{}` | {} | {seeds} | {total} |", m.name, m.means);
    }
    let never: Vec<&str> =
        MARKS.iter().zip(&totals).filter(|(_, t)| t.0 == 0).map(|(m, _)| m.name).collect();
    if !never.is_empty() {
        let _ = writeln!(w, "\nNever hit in this batch: {}.", never.join(", "));
    }
    let _ = writeln!(w, "\n## Failing seeds\n");
    if failed.is_empty() {
        let _ = writeln!(w, "None.");
    }
    for s in failed {
        let _ = writeln!(
            w,
            "- seed {}: {}: {}\n  - faults: {}\n  - replay: `{}`",
            s.seed,
            s.verdict.name(),
            s.verdict.detail().unwrap_or(""),
            s.faults.iter().map(|f| f.what.as_str()).collect::<Vec<_>>().join("; "),
            replay_command(c, meta, s.seed)
        );
    }
    out
}
