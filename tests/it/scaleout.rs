//! Goal: a sweep that outgrows one machine runs as a Slurm job array or a Kubernetes Indexed
//! Job of shards and a merge step, and the result is the sweep run in one piece, byte for byte.
//! Method: the project's own scripts, run with the binary under test. The Slurm one starts a
//! real one-node cluster (Debian's slurm-wlm and munge, installed when missing; needs root),
//! submits an 8-task array and its dependent merge through `deploy/slurm/submit.sh`, compares,
//! resubmits to see every finished shard skipped, and stops the daemons. The Kubernetes one
//! validates the manifests with `kubernetes-validate --strict` (installed from PyPI when
//! missing) and runs the containers' own command lines with the index the Job controller sets.

use crate::support::script;

#[test]
fn a_slurm_array_and_its_merge_equal_the_local_sweep() {
    script("deploy/slurm/test-cluster.sh", None);
}

#[test]
fn the_kubernetes_manifests_validate_and_their_commands_reproduce_the_sweep() {
    script("deploy/k8s/test-manifests.py", Some("python3"));
}
