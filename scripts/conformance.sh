#!/usr/bin/env bash
# Kubernetes' own network conformance tests (e2e.test of k8s.io/kubernetes v1.22.5, built from source into the
# bundle) against a running cluster, offline: every image the selected tests run is a bundle image already on
# the nodes, and KUBE_TEST_REPO_LIST points e2e's registries at those names.
#
#   scripts/conformance.sh --kube-inventory INVENTORY [options]   fetch admin.conf from its first control plane
#   scripts/conformance.sh --kubeconfig FILE [options]            a kubeconfig you already have
#   scripts/conformance.sh --lab [options]                        the podman lab (lab/inventory, lab/ansible.cfg)
#
# Options:
#   --netns NAME       run e2e.test inside that network namespace (the lab's control-plane node: the host has no
#                      address on the lab's host-only network). Set by itself for an inventory whose control
#                      plane is a lab container (ansible_connection lab_podman).
#   --report-dir DIR   where junit, log, summary.json and summary.txt go
#                      (default $KF_CACHE/conformance-reports/<UTC time>, `latest` links to the last one)
#   --focus RE / --skip RE   override the selection below (ginkgo regular expressions)
#   --timeout DURATION       for the whole e2e.test run (timeout(1) syntax; default 90m)
#   --list             print the selected tests (ginkgo dry run, no cluster is touched) and exit
#
# Selection: `[sig-network] Networking Granular Checks ... [Conformance]` (pod-pod and node-pod, http and udp),
# every `[sig-network] Services ... [Conformance]` (none of 1.22's needs a cloud load balancer), and
# `[sig-network] DNS should provide DNS for the cluster [Conformance]`; skipped: anything naming LoadBalancer,
# a [Feature:...], [Serial], [Disruptive] or a [Provider:...].
#
# Needs: the conformance artifacts (make conformance-build; bundle/is-complete.sh --conformance) and their images
# on every node (lab/verification_images.yml; checked here through each Node's status.images before anything
# runs). Exit status: 0 every selected test passed, 1 a test failed, 2 usage or setup error, 3 artifacts missing.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
KF_CACHE=${KF_CACHE:-/var/cache/kubeadm-flannel}
B=${KF_BUNDLE:-$KF_CACHE/bundle}
V=$B/verification

FOCUS='\[sig-network\] (Networking Granular Checks.*\[Conformance\]|Services .*\[Conformance\]|DNS should provide DNS for the cluster +\[Conformance\])'
SKIP='LoadBalancer|\[Feature:|\[Serial\]|\[Disruptive\]|\[Provider:'
TIMEOUT=90m

log() { printf '%s [conformance] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 2; }
# Nothing ends this script without saying where.
set -o errtrace
trap 'log "ERROR: line $LINENO: $BASH_COMMAND exited $?"' ERR
usage() { awk 'NR>1 && /^#/ {sub(/^# ?/, ""); print; next} NR>1 {exit}' "$0"; }

inventory=""; kubeconfig=""; netns=""; report=""; list=0
while [ $# -gt 0 ]; do
  case $1 in
    --kube-inventory) inventory=${2:?}; shift 2 ;;
    --kubeconfig) kubeconfig=${2:?}; shift 2 ;;
    --lab) inventory=$REPO/lab/inventory/hosts.yml; export ANSIBLE_CONFIG=$REPO/lab/ansible.cfg; shift ;;
    --netns) netns=${2:?}; shift 2 ;;
    --report-dir) report=${2:?}; shift 2 ;;
    --focus) FOCUS=${2:?}; shift 2 ;;
    --skip) SKIP=${2:?}; shift 2 ;;
    --timeout) TIMEOUT=${2:?}; shift 2 ;;
    --list) list=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

E2E=$V/bin/e2e.test
KUBECTL=$B/bin/kubectl

if [ "$list" = 1 ]; then
  [ -x "$E2E" ] || { log "no $E2E: make conformance-build"; exit 3; }
  # A ginkgo dry run reports every selected spec as passed without running it: its junit is the list.
  dry=$(mktemp -d)
  trap 'rm -rf "$dry"' EXIT
  "$E2E" --ginkgo.dryRun --ginkgo.noColor --ginkgo.focus="$FOCUS" --ginkgo.skip="$SKIP" \
    --report-dir="$dry" >"$dry/e2e.log" 2>&1 || { tail -20 "$dry/e2e.log" >&2; die "e2e.test --ginkgo.dryRun failed"; }
  python3 "$REPO/scripts/conformance_report.py" --names "$dry"/junit_*.xml
  exit 0
fi
[ -n "$inventory" ] || [ -n "$kubeconfig" ] || { usage >&2; die "name a cluster: --kube-inventory, --kubeconfig or --lab"; }
[ -z "$inventory" ] || [ -z "$kubeconfig" ] || die "--kube-inventory and --kubeconfig exclude each other"

# --- The artifacts: complete and as recorded, or a loud no ----------------------------------------------
if ! "$REPO/bundle/is-complete.sh" --conformance "$B"; then
  cat >&2 <<'MSG'

################################################################################################
##  NETWORK CONFORMANCE TESTS NOT RUN: the conformance artifacts are not built here.            ##
##  (e2e.test, agnhost and the agnhost / jessie-dnsutils images, from Go modules + Debian)      ##
##  Build them once:   make conformance-build      (cached; a second run builds nothing)        ##
##  then:              make test-conformance       (the lab)  or  scripts/conformance.sh --help ##
################################################################################################

MSG
  exit 3
fi

# --- Report directory and the cluster's kubeconfig ---------------------------------------------------------
if [ -z "$report" ]; then
  report=$KF_CACHE/conformance-reports/$(date -u +%Y%m%dT%H%M%SZ)
  mkdir -p "$report"
  ln -sfn "$(basename "$report")" "$KF_CACHE/conformance-reports/latest"
fi
mkdir -p "$report"
report=$(cd "$report" && pwd)
# admin.conf is the cluster's root credential: private to this run, removed when it ends.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 0700 "$work"

if [ -n "$inventory" ]; then
  [ -f "$inventory" ] || die "no inventory $inventory"
  graph=$(ansible-inventory -i "$inventory" --graph kube_control_plane) || die "ansible-inventory failed on $inventory"
  cp_host=$(sed -n 's/^ *|--\([^@].*\)$/\1/p' <<<"$graph" | head -1)
  [ -n "$cp_host" ] || die "$inventory has no host in kube_control_plane"
  # How Ansible reaches it: a lab node (podman container) has no address the host can reach.
  # json on stdout and nothing else: no extra callback (molecule's runs enable ansible.posix.timer, whose
  # "Playbook run took ..." line after the JSON made jq fail)
  conn=$(env -u ANSIBLE_CALLBACKS_ENABLED ANSIBLE_LOAD_CALLBACK_PLUGINS=1 ANSIBLE_STDOUT_CALLBACK=ansible.builtin.json \
         ansible -i "$inventory" "$cp_host" -m ansible.builtin.debug \
           -a '{"msg": "{{ ansible_connection | default(\"ssh\") }} {{ ansible_host | default(inventory_hostname) }}"}') \
    || die "ansible could not read how $cp_host is reached: $conn"
  conn=$(jq -r --arg h "$cp_host" '.plays[0].tasks[0].hosts[$h].msg' <<<"$conn")
  if [ -z "$netns" ] && [ "${conn%% *}" = lab_podman ]; then
    mode=$(podman inspect "${conn#* }" --format '{{.HostConfig.NetworkMode}}') || die "no lab node ${conn#* } (make lab)"
    netns=${mode#ns:/run/netns/}
  fi
  log "admin.conf from $cp_host ($inventory)"
  ansible -i "$inventory" "$cp_host" -m ansible.builtin.fetch \
    -a "src=/etc/kubernetes/admin.conf dest=$work/admin.conf flat=true" >"$work/fetch.log" 2>&1 \
    || { cat "$work/fetch.log" >&2; die "could not fetch /etc/kubernetes/admin.conf from $cp_host"; }
  chmod 0600 "$work/admin.conf"
  kubeconfig=$work/admin.conf
fi
[ -f "$kubeconfig" ] || die "no kubeconfig $kubeconfig"
kubeconfig=$(cd "$(dirname "$kubeconfig")" && pwd)/$(basename "$kubeconfig")
in_ns=()
if [ -n "$netns" ]; then
  ip netns list | grep -qE "^$netns( |\$)" || die "no network namespace $netns"
  in_ns=(ip netns exec "$netns")
  log "e2e.test runs in network namespace $netns"
fi
kc() { "${in_ns[@]}" "$KUBECTL" --kubeconfig "$kubeconfig" "$@"; }

# --- What e2e will ask for, mapped to the bundle's names -------------------------------------------------
# e2e 1.22 composes <registry>/<name>:<tag> (test/utils/image/manifest.go); the conformance images are named
# <E2E registry>/agnhost:2.32 etc., pause is the rollout's <repo>/pause:3.5. Every other registry points at a
# name on the node itself, so an image nobody built fails at once, by its name, instead of leaving the lab.
e2e_ref=$(jq -r '.images[] | select(.id == "agnhost") | .ref' "$V/manifest.json")
e2e_registry=${e2e_ref%/agnhost:*}
pause_ref=$(jq -r '.images[] | select(.id == "pause") | .ref' "$B/manifest.json")
gc_registry=${pause_ref%/pause:*}
unavailable=localhost/kubeadm-flannel/e2e-not-in-bundle
cat >"$report/repo-list.yaml" <<EOF
# KUBE_TEST_REPO_LIST for e2e.test (written by scripts/conformance.sh)
promoterE2eRegistry: $e2e_registry
e2eRegistry: $e2e_registry
gcRegistry: $gc_registry
gcEtcdRegistry: $gc_registry
buildImageRegistry: $unavailable
gcAuthenticatedRegistry: $unavailable
invalidRegistry: $unavailable
sigStorageRegistry: $unavailable
gcrReleaseRegistry: $unavailable
privateRegistry: $unavailable
sampleRegistry: $unavailable
microsoftRegistry: $unavailable
dockerLibraryRegistry: $unavailable
cloudProviderGcpRegistry: $unavailable
EOF
wanted=$(jq -r '.images[] | select(.id == "agnhost" or .id == "jessie-dnsutils") | .ref' "$V/manifest.json"; echo "$pause_ref")

# --- Preflight: the cluster answers, and every node has every image --------------------------------------
log "cluster: $(kc version --short 2>/dev/null | tr '\n' ' ')"
nodes=$(kc get nodes -o json) || die "the API server does not answer ($kubeconfig${netns:+, netns $netns})"
missing=$(jq -r --arg wanted "$wanted" '
  ($wanted | split("\n") | map(select(. != ""))) as $w
  | .items[] | .metadata.name as $n | ([.status.images[]?.names[]?]) as $have
  | $w[] | select(. as $r | $have | index($r) | not) | "\($n): \(.)"' <<<"$nodes")
if [ -n "$missing" ]; then
  log "images missing on nodes (imagePullPolicy IfNotPresent: nothing can be pulled here):"
  while IFS= read -r line; do log "  $line"; done <<<"$missing"
  die "import them first: ansible-playbook [-i INVENTORY] lab/verification_images.yml (see README, Conformance)"
fi
# The cluster's DNS domain, as CoreDNS serves it (kubeadm's networking.dnsDomain).
corefile=$(kc -n kube-system get configmap coredns -o jsonpath='{.data.Corefile}') || corefile=""
dns_domain=$(sed -n 's/^ *kubernetes \([^ ]*\) .*/\1/p' <<<"$corefile" | head -1)
dns_domain=${dns_domain:-cluster.local}

# --- Run ---------------------------------------------------------------------------------------------------
log "e2e.test $(jq -r '.version' "$V/stamps/e2e.test.json"), report in $report"
log "focus: $FOCUS"
log "skip:  $SKIP"
jq -n --arg focus "$FOCUS" --arg skip "$SKIP" --arg kc "${inventory:-$kubeconfig}" --arg netns "$netns" \
      --arg domain "$dns_domain" --slurpfile vm "$V/manifest.json" \
  '{focus:$focus, skip:$skip, cluster:$kc, netns:$netns, dns_domain:$domain,
    artifacts:[($vm[0].artifacts // [])[] | {name, version, sha256}],
    images:[$vm[0].images[] | {ref, archive_sha256}]}' >"$report/run.json"
start=$(date +%s)
rc=0
KUBE_TEST_REPO_LIST=$report/repo-list.yaml timeout "$TIMEOUT" "${in_ns[@]}" "$E2E" \
  --provider=skeleton --kubeconfig="$kubeconfig" --kubectl-path="$KUBECTL" --dns-domain="$dns_domain" \
  --report-dir="$report" --disable-log-dump --ginkgo.noColor \
  --ginkgo.focus="$FOCUS" --ginkgo.skip="$SKIP" >"$report/e2e.log" 2>&1 || rc=$?
secs=$(( $(date +%s) - start ))
log "e2e.test exited $rc after ${secs}s (log: $report/e2e.log)"
[ "$rc" != 124 ] || log "e2e.test was stopped by the --timeout of $TIMEOUT"

junit=$(find "$report" -maxdepth 1 -name 'junit_*.xml' | sort | head -1)
if [ -z "$junit" ]; then
  tail -30 "$report/e2e.log" >&2
  log "ERROR: e2e.test wrote no junit report: no result to show"
  exit 1
fi
python3 "$REPO/scripts/conformance_report.py" "$junit" --log "$report/e2e.log" --seconds "$secs" \
  --json "$report/summary.json" | tee "$report/summary.txt"
# The verdict is the report's, not only e2e.test's status: no test selected is a failure too.
jq -e '.failed == 0 and .passed > 0' "$report/summary.json" >/dev/null && [ "$rc" = 0 ] || exit 1
