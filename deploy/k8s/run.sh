#!/usr/bin/env bash
# Runs a sharded sweep on Kubernetes: the volume, the Indexed Job, a wait until every index is
# done, then the merge Job. Edit the image, SHARDS/completions and the sweep's arguments in
# sweep-job.yaml and merge-job.yaml first (docs/scale-out.md).
#
#   deploy/k8s/run.sh [NAMESPACE]     (TIMEOUT=6h by default)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ns=(--namespace "${1:-default}")
kubectl "${ns[@]}" apply -f "$here/volume.yaml"
kubectl "${ns[@]}" apply -f "$here/sweep-job.yaml"
if ! kubectl "${ns[@]}" wait --for=condition=complete --timeout="${TIMEOUT:-6h}" job/bakong-sweep; then
    echo "run.sh: bakong-sweep did not complete; failed indexes:" >&2
    kubectl "${ns[@]}" get job/bakong-sweep -o jsonpath='{.status.failedIndexes}{"\n"}' >&2
    exit 1
fi
kubectl "${ns[@]}" delete job/bakong-sweep-merge --ignore-not-found
kubectl "${ns[@]}" apply -f "$here/merge-job.yaml"
kubectl "${ns[@]}" wait --for=condition=complete --timeout=30m job/bakong-sweep-merge
echo "run.sh: the merged sweep is in the bakong-sweep volume at sweep/"
