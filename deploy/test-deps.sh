#!/usr/bin/env bash
# Installs what the tests need, when it is missing: Debian's slurm-wlm and munge (a real one-node
# Slurm cluster), kubernetes-validate from PyPI (the manifests' schemas), and pyiso8583 from
# PyPI (an independent ISO 8583 codec for the differential test of ours), and Debian's chromium
# (a real browser that opens the report pages).
# Called by .ci/run, and by deploy/slurm/test-cluster.sh and deploy/k8s/test-manifests.py
# themselves, so `cargo test` on a fresh machine (as root) needs nothing done by hand.
#
#   deploy/test-deps.sh [slurm] [k8s] [iso8583] [chromium]     (all when none is named)
set -euo pipefail

want=("$@")
[[ ${#want[@]} -gt 0 ]] || want=(slurm k8s iso8583 chromium)
KUBERNETES_VALIDATE_VERSION=1.37.0
PYISO8583_VERSION=4.0.1

for part in "${want[@]}"; do
    case $part in
    slurm)
        if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
            if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
                echo "test-deps: slurm-wlm and munge are missing; install them (as root: apt-get install slurm-wlm munge)" >&2
                exit 2
            fi
            echo "test-deps: installing slurm-wlm and munge" >&2
            export DEBIAN_FRONTEND=noninteractive
            apt-get install -y -q --no-install-recommends slurm-wlm munge >/dev/null 2>&1 \
                || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends slurm-wlm munge >/dev/null; }
        fi
        ;;
    k8s)
        if ! python3 -c 'import kubernetes_validate, yaml' 2>/dev/null; then
            echo "test-deps: installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION" >&2
            python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
                "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >&2
        fi
        ;;
    iso8583)
        if ! python3 -c 'import iso8583' 2>/dev/null; then
            echo "test-deps: installing pyiso8583 $PYISO8583_VERSION" >&2
            python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
                "pyiso8583==$PYISO8583_VERSION" >&2
        fi
        ;;
    chromium)
        if ! command -v chromium >/dev/null; then
            if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
                echo "test-deps: chromium is missing; install it (as root: apt-get install chromium)" >&2
                exit 2
            fi
            echo "test-deps: installing chromium" >&2
            export DEBIAN_FRONTEND=noninteractive
            apt-get install -y -q chromium >/dev/null 2>&1 \
                || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
        fi
        ;;
    *)
        echo "test-deps: unknown part '$part' (slurm, k8s, iso8583, chromium)" >&2
        exit 2
        ;;
    esac
done
