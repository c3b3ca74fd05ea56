#!/usr/bin/env bash
# Tests the Slurm recipe for real: starts a one-node Slurm cluster on this machine (Debian's
# slurm-wlm and munge, as root, with its own munge key, socket, ports and state under a scratch
# folder), submits an 8-task sweep array and its merge through deploy/slurm/submit.sh, checks
# that the merged folder equals the same sweep run locally in one piece, byte for byte, does
# the same for a 4-task swarm campaign (seeds, verdicts and marks), resubmits both and checks
# that every finished shard is skipped, then stops the daemons and removes the scratch folder.
#
#   deploy/slurm/test-cluster.sh [path/to/sim]     (default: target/release/sim)
#
# Needs root; installs slurm-wlm and munge when they are missing (deploy/test-deps.sh). Bounded:
# every wait has a deadline. Nothing listens beyond this machine: slurmctld and slurmd are told the node is
# 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."

sim=$(realpath "${1:-target/release/sim}")
[[ -x $sim ]] || { echo "test-cluster: no sim binary at $sim (cargo build --release)" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "test-cluster: needs root (it starts munged, slurmctld, slurmd)" >&2; exit 2; }
deploy/test-deps.sh slurm
for tool in munged slurmctld slurmd sbatch squeue scontrol sinfo; do
    command -v "$tool" >/dev/null || { echo "test-cluster: $tool missing (apt-get install slurm-wlm munge)" >&2; exit 2; }
done

scratch=$(mktemp -d /tmp/bakong-slurm.XXXXXX)
chmod 755 "$scratch"
pids=()
cleanup() {
    local rc=$?
    if [[ -n ${SLURM_CONF:-} ]]; then
        scancel --quiet --user=root 2>/dev/null || true
    fi
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    if [[ $rc -ne 0 ]]; then
        echo "test-cluster: FAILED; daemon logs:" >&2
        tail -n 30 "$scratch"/*.log >&2 2>/dev/null || true
    fi
    rm -rf "$scratch"
    exit "$rc"
}
trap cleanup EXIT

# Free ports for slurmctld and slurmd.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ctld_port=$(port)
slurmd_port=$(port)
node=$(hostname -s)
cpus=$(nproc)
mem_mb=$(awk '/MemTotal/ { print int($2 / 1024 * 0.8) }' /proc/meminfo)

# munge: a key of our own, a socket of our own.
dd if=/dev/urandom of="$scratch/munge.key" bs=1024 count=1 status=none
chmod 600 "$scratch/munge.key"
mkdir -p "$scratch/munge"
chmod 711 "$scratch/munge"
munged --force --foreground --socket="$scratch/munge/munge.sock" --key-file="$scratch/munge.key" \
    --pid-file="$scratch/munge/munged.pid" --log-file="$scratch/munged.log" \
    --seed-file="$scratch/munge/munged.seed" >>"$scratch/munged.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [[ -S $scratch/munge/munge.sock ]] && break; sleep 0.1; done
[[ -S $scratch/munge/munge.sock ]] || { echo "test-cluster: munged did not start" >&2; exit 1; }

mkdir -p "$scratch/state" "$scratch/spool"
cat > "$scratch/slurm.conf" <<CONF
ClusterName=bakong-test
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$scratch/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$scratch/state
SlurmdSpoolDir=$scratch/spool
SlurmctldPidFile=$scratch/slurmctld.pid
SlurmdPidFile=$scratch/slurmd.pid
SlurmctldLogFile=$scratch/slurmctld.log
SlurmdLogFile=$scratch/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1
MinJobAge=600
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$scratch/slurm.conf

slurmctld -D -i >>"$scratch/slurmctld.log" 2>&1 &
pids+=($!)
slurmd -D >>"$scratch/slurmd.log" 2>&1 &
pids+=($!)
deadline=$((SECONDS + 60))
until sinfo -h -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; do
    (( SECONDS < deadline )) || { echo "test-cluster: the node did not come up" >&2; sinfo >&2 || true; exit 1; }
    sleep 0.5
done
echo "test-cluster: slurm up (node $node, $cpus CPUs, ports $ctld_port/$slurmd_port)"

# Waits until the queue is empty, for at most $1 seconds; $2 names what is waited for.
drain() {
    local deadline=$((SECONDS + $1))
    while [[ -n $(squeue -h -o '%i' 2>/dev/null) ]]; do
        (( SECONDS < deadline )) || { echo "test-cluster: $2 still queued after $1 s" >&2; squeue >&2 || true; exit 1; }
        sleep 1
    done
}

# The same sweep twice: in one piece here, and as 8 array tasks plus their merge.
scenario=tests/data/tiny.toml
vary=(--vary "load.multiplier=0.5,1,1.5,2,2.5,3,3.5,4,4.5,5" --replications 2)
"$sim" sweep "$scenario" "${vary[@]}" --jobs 2 --quiet --out "$scratch/local" >/dev/null

out=$scratch/batch
submitted=$(BAKONG_SIM=$sim SBATCH_EXTRA="--cpus-per-task=1 --mem-per-cpu=256M --time=00:10:00 --output=$scratch/job-%j.log" \
    deploy/slurm/submit.sh 8 "$out" "$scenario" "${vary[@]}")
echo "test-cluster: $submitted"
drain 600 "jobs"
[[ -d $out/sweep ]] || { echo "test-cluster: no merged sweep in $out/sweep" >&2; ls -R "$out" >&2; cat "$scratch"/job-*.log >&2; exit 1; }
for i in $(seq 0 7); do
    [[ -f $out/shard-$i/sweep.json ]] || { echo "test-cluster: shard $i missing" >&2; exit 1; }
done
if ! diff -r "$scratch/local" "$out/sweep"; then
    echo "test-cluster: the merged sweep differs from the local one" >&2
    exit 1
fi
files=$(find "$out/sweep" -type f | wc -l)

# Resubmitting the array skips every shard already whole.
before=$(stat -c %Y "$out/shard-3/sweep.json")
again=$(BAKONG_SIM=$sim SBATCH_EXTRA="--cpus-per-task=1 --mem-per-cpu=256M --time=00:10:00 --output=$scratch/again-%j.log" \
    deploy/slurm/submit.sh 8 "$out" "$scenario" "${vary[@]}")
drain 300 "resubmission"
grep -q "already whole there; skipped" "$scratch"/again-*.log \
    || { echo "test-cluster: the resubmitted tasks did not skip their shards" >&2; cat "$scratch"/again-*.log >&2; exit 1; }
[[ $(stat -c %Y "$out/shard-3/sweep.json") == "$before" ]] || { echo "test-cluster: a whole shard was rewritten" >&2; exit 1; }
diff -r "$scratch/local" "$out/sweep" >/dev/null || { echo "test-cluster: the re-merged sweep differs" >&2; exit 1; }
echo "test-cluster: ok: 8 array tasks and their merge equal the local sweep ($files files, byte for byte); resubmitted ($again), every shard skipped"

# A swarm campaign, in one piece here and as 4 array tasks plus their merge. A planted bug
# (a test-only canary) makes every seed fail: the elements still succeed, the merge runs and
# exits 1, and the merged campaign holds the same seeds, verdicts and marks as the local one.
campaign=(tests/data/swarm.toml --seeds 1..8 --canary fee_to_wrong_account)
rc=0
"$sim" swarm "${campaign[@]}" --jobs 2 --quiet --out "$scratch/swarm-local" >/dev/null || rc=$?
[[ $rc -eq 1 ]] || { echo "test-cluster: the local campaign exited $rc, not 1 (failing seeds)" >&2; exit 1; }
sout=$scratch/storm
submitted=$(BAKONG_SIM=$sim SBATCH_EXTRA="--cpus-per-task=1 --mem-per-cpu=256M --time=00:10:00 --output=$scratch/swarm-%j.log" \
    deploy/slurm/submit.sh --swarm 4 "$sout" "${campaign[@]}")
echo "test-cluster: $submitted"
drain 600 "swarm jobs"
[[ -f $sout/swarm/swarm.json ]] || { echo "test-cluster: no merged campaign in $sout/swarm" >&2; ls -R "$sout" >&2; cat "$scratch"/swarm-*.log >&2; exit 1; }
grep -q "has failing seeds; the merge lists them" "$scratch"/swarm-*.log \
    || { echo "test-cluster: no element reported its failing seeds" >&2; cat "$scratch"/swarm-*.log >&2; exit 1; }
grep -q "8 seeds, 8 failed" "$scratch"/swarm-*.log \
    || { echo "test-cluster: the merge did not report 8 failed seeds" >&2; cat "$scratch"/swarm-*.log >&2; exit 1; }
python3 - "$scratch/swarm-local/swarm.json" "$sout/swarm/swarm.json" <<'PY'
import json, sys
local, merged = (json.load(open(p)) for p in sys.argv[1:])
for key in ("seeds",):
    assert local[key] == merged[key], f"the merged campaign's {key} differ from the local run's"
for key in ("failed", "marks", "marks_never_hit", "seeds", "clean"):
    assert local["summary"][key] == merged["summary"][key], f"summary.{key} differs"
PY
for s in 1 8; do
    [[ -f $sout/swarm/seed-$s/fault-mix.txt ]] || { echo "test-cluster: seed $s's folder was not merged" >&2; exit 1; }
done
before=$(stat -c %Y "$sout/shard-2/swarm.json")
BAKONG_SIM=$sim SBATCH_EXTRA="--cpus-per-task=1 --mem-per-cpu=256M --time=00:10:00 --output=$scratch/swarm-again-%j.log" \
    deploy/slurm/submit.sh --swarm 4 "$sout" "${campaign[@]}" >/dev/null
drain 300 "swarm resubmission"
[[ $(grep -l "already whole there" "$scratch"/swarm-again-*.log | wc -l) -eq 4 ]] \
    || { echo "test-cluster: the resubmitted swarm tasks did not all skip" >&2; cat "$scratch"/swarm-again-*.log >&2; exit 1; }
[[ $(stat -c %Y "$sout/shard-2/swarm.json") == "$before" ]] || { echo "test-cluster: a whole swarm shard was rewritten" >&2; exit 1; }
echo "test-cluster: ok: a swarm campaign as 4 array tasks and its merge equals the local one (8 seeds, all failing on the canary); resubmitted, every shard skipped"
