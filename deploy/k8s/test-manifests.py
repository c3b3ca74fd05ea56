#!/usr/bin/env python3
"""Checks the Kubernetes manifests offline, as far as a machine without a cluster can:

1. `kubernetes-validate --strict` accepts every manifest (no unknown field, every type right),
   and rejects a copy of the sweep Job with a misspelt field, so the check can fail;
2. the sweep Job is an Indexed Job whose SHARDS equals its completions, and the merge Job's
   SHARDS equals them too; both mount the same claim the volume manifest defines;
3. the containers' own command lines, run here by /bin/sh with JOB_COMPLETION_INDEX set as the
   Job controller sets it (the image's /usr/local/bin/sim replaced by this build, /data by a
   scratch folder, the sweep's arguments by a small one), produce shards whose merge is
   byte-identical to the same sweep run in one piece.

It installs kubernetes-validate (which brings PyYAML) when it is missing (deploy/test-deps.sh).

usage: deploy/k8s/test-manifests.py [path/to/sim]   (default: target/release/sim)
"""

import filecmp
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
HERE = ROOT / "deploy" / "k8s"


def fail(message):
    print(f"test-manifests: {message}", file=sys.stderr)
    sys.exit(1)


def install():
    subprocess.run([str(ROOT / "deploy" / "test-deps.sh"), "k8s"], check=True)
    global yaml  # noqa: PLW0603 - imported once installed
    import yaml  # pylint: disable=import-outside-toplevel


def load(name):
    with open(HERE / name, encoding="utf-8") as f:
        return yaml.safe_load(f)


def env_of(container):
    return {e["name"]: e["value"] for e in container.get("env", [])}


def validate(paths):
    return subprocess.run(
        ["kubernetes-validate", "--strict", "--quiet", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )


def same_tree(a, b):
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    if mismatch or errors:
        return False
    return all(same_tree(os.path.join(a, d), os.path.join(b, d)) for d in cmp.common_dirs)


def main():
    sim = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "target/release/sim").resolve()
    if not os.access(sim, os.X_OK):
        fail(f"no sim binary at {sim} (cargo build --release)")
    install()
    manifests = sorted(HERE.glob("*.yaml"))
    result = validate(manifests)
    if result.returncode != 0:
        fail(f"kubernetes-validate --strict refused:\n{result.stdout}{result.stderr}")

    job, merge, volume = load("sweep-job.yaml"), load("merge-job.yaml"), load("volume.yaml")
    with tempfile.TemporaryDirectory() as scratch:
        broken = dict(job)
        broken["spec"] = dict(job["spec"], completionsMode="Indexed")
        path = pathlib.Path(scratch) / "broken.yaml"
        path.write_text(yaml.safe_dump(broken), encoding="utf-8")
        if validate([path]).returncode == 0:
            fail("kubernetes-validate --strict accepted a misspelt field: the check cannot fail")

    spec = job["spec"]
    if spec.get("completionMode") != "Indexed":
        fail("the sweep Job is not Indexed")
    shard_container = spec["template"]["spec"]["containers"][0]
    merge_container = merge["spec"]["template"]["spec"]["containers"][0]
    shards = int(env_of(shard_container)["SHARDS"])
    if shards != spec["completions"] or int(env_of(merge_container)["SHARDS"]) != shards:
        fail(f"SHARDS ({shards}), completions ({spec['completions']}) and the merge's SHARDS differ")
    claim = volume["metadata"]["name"]
    for name, j in (("sweep", job), ("merge", merge)):
        claims = [v["persistentVolumeClaim"]["claimName"] for v in j["spec"]["template"]["spec"]["volumes"]]
        if claims != [claim]:
            fail(f"the {name} Job mounts {claims}, not the claim {claim}")

    # The containers' command lines, run here.
    with tempfile.TemporaryDirectory() as scratch:
        data = pathlib.Path(scratch) / "data"
        data.mkdir()

        def run(container, extra_env):
            script = container["args"][0].replace("/usr/local/bin/sim", str(sim)).replace("/data", str(data))
            env = {**os.environ, **env_of(container), **extra_env}
            done = subprocess.run(
                [*container["command"], script], env=env, cwd=ROOT, capture_output=True, text=True,
                timeout=300, check=False,
            )
            if done.returncode != 0:
                fail(f"{container['name']} {extra_env} exited {done.returncode}:\n{done.stderr}")

        small = {
            "SCENARIO": "tests/data/tiny.toml",
            "SWEEP_ARGS": "--vary load.multiplier=0.5,1,1.5,2,2.5,3,3.5,4,4.5,5 --replications 2",
        }
        for index in range(shards):
            run(shard_container, dict(small, JOB_COMPLETION_INDEX=str(index)))
        run(merge_container, {})
        local = pathlib.Path(scratch) / "local"
        subprocess.run(
            [str(sim), "sweep", small["SCENARIO"], *small["SWEEP_ARGS"].split(), "--jobs", "2", "--quiet",
             "--out", str(local)],
            cwd=ROOT, check=True, capture_output=True, timeout=300,
        )
        if not same_tree(local, data / "sweep"):
            fail("the merged shards differ from the sweep run in one piece")
        files = sum(1 for p in (data / "sweep").rglob("*") if p.is_file())
        shutil.rmtree(data)
    print(
        f"test-manifests: ok: {len(manifests)} manifests pass kubernetes-validate --strict (and a "
        f"misspelt field fails); {shards} indexes and the merge, run from the manifests' own "
        f"command lines, equal the local sweep ({files} files, byte for byte)"
    )


if __name__ == "__main__":
    main()
