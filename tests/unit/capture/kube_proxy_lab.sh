#!/usr/bin/env bash
# Capture what kube-proxy and the API hold on the lab cluster (`make lab`), for tests/unit/test_services.py:
#   captured/kube_proxy/<node>_iptables_save_nat.txt   iptables-save -t nat on a worker (kube-proxy's chains)
#   captured/kube_proxy/services_endpoints.json        kubectl get services,endpoints -A -o json
#   captured/kube_proxy/verify_report.json             lab/verify.yml's report: settings, results and what
#                                                      its probes saw (probe pods' output, objects)
# Reads only, through `podman exec` into the lab's own nodes; the report's verify run creates and removes its
# probe namespace. Run from the repo root with the lab up.
set -euo pipefail
OUT=tests/unit/fixtures/captured/kube_proxy
LAB=${LAB_NAME:-kflab}
WORKER=${WORKER:-k8s-w1}
mkdir -p "$OUT"
podman exec "$LAB-$WORKER" iptables-save -t nat | sed '/^# /d' >"$OUT/${WORKER}_iptables_save_nat.txt"
podman exec "$LAB-k8s-m" kubectl --kubeconfig /etc/kubernetes/admin.conf get services,endpoints -A -o json \
  >"$OUT/services_endpoints.json"
ANSIBLE_CONFIG=lab/ansible.cfg .venv/bin/ansible-playbook lab/verify.yml \
  -e verify_report_file="$PWD/$OUT/verify_report.json" >/dev/null
echo "captured into $OUT"
