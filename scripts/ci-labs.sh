#!/usr/bin/env bash
# CI's lab step (make test-labs): which lab scenarios run depends on what the bundle cache holds.
#
# With the whole bundle cached (Kubernetes, etcd, CoreDNS built from their Go modules, and the images): the
# tests marked `bundle`, then the two scenarios that roll site.yml out, the seed's cluster (molecule `cluster`:
# one control plane, the network model, the node and data-plane faults) and the HA cluster (molecule `ha`).
# These cover every product stage the data-plane lab (molecule `default`) runs, so it does not run too: on this
# 2-core machine, the three scenarios and the unit tests do not fit CI's 90 minutes (README, "Tests").
#
# Without it (a cold build takes ~45 min here, too long for CI): the data-plane lab, which needs only the
# bundle's data-plane part (minutes to build), and a banner saying loudly what did not run and how to run it.
#
# Kubernetes' network conformance subset (scripts/conformance.sh) runs inside the cluster scenario's verify
# step (tests/infra/conformance) when its artifacts are built too (bundle/is-complete.sh --conformance, apart
# from the bundle: the scenario never needs them). When they are not, a banner here says so before the
# scenario starts, and the test's skip reason says it again in pytest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each scenario timed into make test's summary (KF_TIMES, scripts/timed.sh); the first failure stops the rest,
# which the summary lists as not run.
run_scenarios() {
  local times=${KF_TIMES:-/dev/null} rc=0 scenario
  for scenario in "$@"; do
    if [ "$rc" = 0 ]; then
      scripts/timed.sh "$times" "$scenario" make --no-print-directory "$scenario" || rc=$?
    else
      echo "$scenario - -" >> "$times"
    fi
  done
  return "$rc"
}
if ! bundle/is-complete.sh; then
  cat >&2 <<'MSG'

################################################################################################
##  CLUSTER AND HA SCENARIOS AND BUNDLE TESTS NOT RUN: the air-gapped bundle is not cached here. ##
##  (a cold build takes ~45 min: too long for CI's 90 minutes with everything else)            ##
##  Running the data-plane lab instead (molecule default: stages 1-3 + flanneld, no Kubernetes).##
##  Run them by hand:   make bundle && make test-bundle test-cluster test-ha                    ##
##  After one `make bundle` the cache stays, and CI runs the cluster and HA scenarios.          ##
################################################################################################

MSG
  run_scenarios test-lab
  exit
fi
if ! bundle/is-complete.sh --conformance; then
  cat >&2 <<'MSG'

################################################################################################
##  NETWORK CONFORMANCE TESTS (e2e.test) WILL NOT RUN in the cluster scenario: not built here.   ##
##  (e2e.test + agnhost from k8s.io/kubernetes v1.22.5, the agnhost/jessie-dnsutils images)     ##
##  Build them once:   make conformance-build     (cached; then CI runs them every time)         ##
##  Or by hand against a lab:   make lab && make test-conformance                                ##
################################################################################################

MSG
fi
# The HA scenario ends with playbooks/upgrade.yml to the next release, whose bundle is built apart (make
# bundle-upgrade): without it, tests/infra/faults/test_upgrade.py is skipped with this reason, said here first.
if ! bundle/is-complete.sh "${KF_UPGRADE_BUNDLE:?make test-labs sets it}" >/dev/null 2>&1; then
  cat >&2 <<MSG

################################################################################################
##  THE UPGRADE (playbooks/upgrade.yml) WILL NOT BE TESTED in the HA scenario: its bundle is     ##
##  not built here ($KF_UPGRADE_BUNDLE).
##  Build it once:   make bundle-upgrade    (~10 min after make bundle; cached, then CI runs it) ##
################################################################################################

MSG
fi
run_scenarios test-bundle test-cluster test-ha
