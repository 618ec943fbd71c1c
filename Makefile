# Two commands matter (see README):  make lab   (bring up the lab and roll the cluster out)
#                                     make test  (everything CI runs)
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# Tools from the venv come first, so ansible, molecule and pytest are the pinned ones.
export PATH := $(abspath $(BIN)):$(PATH)
# The product's configuration by default; everything aimed at the podman lab uses the lab's (lab/ansible.cfg:
# its inventory, roles and connection plugin on top of the product's).
export ANSIBLE_CONFIG := $(abspath ansible.cfg)
LAB_ANSIBLE := ANSIBLE_CONFIG=$(abspath lab/ansible.cfg)
# Where `make lab` and the cluster scenario keep each run's stage timings (callback_plugins/stage_timings.py:
# one JSON per ansible-playbook run, in a directory per make run); scripts/timings_report.py reads them.
TIMINGS ?= /var/cache/kubeadm-flannel/timings
STAMP := $(shell date -u +%Y%m%dT%H%M%SZ)
# Molecule with plain output (CI logs) and a per-playbook timer.
MOLECULE := NO_COLOR=1 PY_COLORS=0 ANSIBLE_NOCOLOR=1 ANSIBLE_CALLBACKS_ENABLED=ansible.posix.timer $(BIN)/molecule

.PHONY: help venv host-deps lint-deps report-deps lint test test-unit test-bundle test-lab test-cluster test-ha test-labs lab lab-ha lab-up lab-down \
	bundle bundle-upgrade bundle-dataplane conformance-build test-conformance clean

help:
	@echo "make lab       build the bundle (cached), bring up the three podman nodes, run site.yml on them"
	@echo "make lab-down  remove the lab (nodes, networks); keeps the cached image"
	@echo "make test      everything CI runs: test-unit, then test-bundle, test-cluster and test-ha (the bundle cached) or test-lab (not)"
	@echo "make test-unit lint, syntax, unit, render, validate, root and report tests (no podman, no bundle needed)"
	@echo "make test-bundle the tests marked bundle (verify.yml against flanneld + kube-apiserver from the bundle)"
	@echo "make test-lab  molecule default: the lab, stages 1-3 + flanneld/etcd/CRI pods twice, node and data-plane checks and faults"
	@echo "make test-cluster    molecule cluster: site.yml from the bundle, twice, checks and faults"
	@echo "make test-ha   molecule ha: three control planes + two workers, the API on a virtual address, failover faults"
	@echo "make lab-ha    the HA lab (lab/ha/hosts.yml) brought up and rolled out, instead of the seed's three nodes"
	@echo "make bundle    build the air-gapped binaries from Go modules into /var/cache/kubeadm-flannel/bundle"
	@echo "make bundle-upgrade  the same for the upgrade's release ($(KUBE_UPGRADE_VERSION)), into .../bundle-$(KUBE_UPGRADE_VERSION)"
	@echo "make conformance-build  e2e.test, agnhost and the e2e images for the network conformance subset (cached)"
	@echo "make test-conformance   Kubernetes' network conformance subset (scripts/conformance.sh) against the lab"

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

venv: $(BIN)/.installed

host-deps:
	sh scripts/install-host-deps.sh

# shellcheck (Debian's package), which the static tests run over every shell script.
lint-deps:
	sh scripts/install-host-deps.sh --lint

# Graphviz and Chromium (Debian's packages): the network report's drawing and the browser that opens it in its
# tests (tests/unit/test_network_report.py; make test-unit).
report-deps:
	sh scripts/install-host-deps.sh --report

lint: venv lint-deps
	$(BIN)/yamllint --strict .
	$(BIN)/ansible-lint --profile production
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q tests/static/test_static.py -k shellcheck

# Two workers (pytest-xdist): the validate cases are one ansible-playbook run each, CPU-bound, independent.
test-unit: venv lint-deps report-deps
	$(BIN)/python -m pytest -n 2 -m 'not bundle'

# The tests marked `bundle` (pytest.ini): verify.yml against real flanneld + kube-apiserver from the bundle.
test-bundle: venv bundle
	$(BIN)/python -m pytest -m bundle tests/system

# The lab scenario: podman nodes, stages 1-3 and the lab's Flannel data plane (flanneld + etcd + CRI pods, no
# Kubernetes) converged twice (idempotence), testinfra, fault injection. Needs only the bundle's data-plane
# binaries (flanneld, crictl, flannel and reference CNI plugins, pause), not Kubernetes.
test-lab: venv host-deps bundle-dataplane
	$(MOLECULE) test

# CI: the unit tests, then the lab scenarios that the bundle cache allows (scripts/ci-labs.sh: with the bundle,
# the bundle tests and the cluster and HA scenarios; without it, the data-plane lab and a loud banner). One after
# the other, stopping at the first that fails; each one's wall time is printed at the end (scripts/timed.sh),
# whether it passed or not. (test-unit alongside the lab scenarios at nice 19 was tried: every scenario is
# CPU-bound on 2 cores, and it saved no wall time.)
test:
	@export KF_TEST_STARTED=$$(date +%s) KF_TIMES=$$(mktemp); rc=0; \
	scripts/timed.sh "$$KF_TIMES" test-unit $(MAKE) --no-print-directory test-unit || rc=$$?; \
	if [ $$rc = 0 ]; then $(MAKE) --no-print-directory test-labs || rc=$$?; else echo "test-labs - -" >> "$$KF_TIMES"; fi; \
	scripts/timed.sh --summary "$$KF_TIMES"; rm -f "$$KF_TIMES"; exit $$rc

# The whole site.yml from the bundle on the lab, idempotence, then tests/infra against the cluster.
test-cluster: venv host-deps bundle
	mkdir -p $(TIMINGS)/cluster-$(STAMP)
	KF_TIMINGS_FILE=$(TIMINGS)/cluster-$(STAMP) $(MOLECULE) test -s cluster

# The HA lab (lab/ha/hosts.yml) rolled out, checked, broken one control plane at a time, failover measured, a
# worker added and removed, then upgraded to KUBE_UPGRADE_VERSION when its bundle is built (make bundle-upgrade;
# tests/infra/faults/test_upgrade.py says loudly when it is not).
test-ha: venv host-deps bundle
	mkdir -p $(TIMINGS)/ha-$(STAMP)
	KF_TIMINGS_FILE=$(TIMINGS)/ha-$(STAMP) KF_UPGRADE_VERSION=$(KUBE_UPGRADE_VERSION) \
	  KF_UPGRADE_BUNDLE=$(UPGRADE_BUNDLE) $(MOLECULE) test -s ha

test-labs: venv host-deps
	KF_UPGRADE_BUNDLE=$(UPGRADE_BUNDLE) KUBE_UPGRADE_VERSION=$(KUBE_UPGRADE_VERSION) scripts/ci-labs.sh

lab-up: venv host-deps
	$(LAB_ANSIBLE) $(BIN)/ansible-playbook lab/up.yml

# The main job: the lab rolled out from the bundle (lab/inventory: kubernetes_source=bundle), then the
# bundle's verification images (not part of a rollout) imported into the lab's nodes, and verify again with
# its live probes on them (lab/verify.yml).
lab: bundle lab-up
	mkdir -p $(TIMINGS)/lab-$(STAMP)
	KF_TIMINGS_FILE=$(TIMINGS)/lab-$(STAMP) $(LAB_ANSIBLE) $(BIN)/ansible-playbook site.yml
	KF_TIMINGS_FILE=$(TIMINGS)/lab-$(STAMP) $(LAB_ANSIBLE) $(BIN)/ansible-playbook lab/verify.yml

# The same on the HA lab: three control planes (stacked etcd), two workers, the API on a virtual address.
# One lab at a time: make lab-down first if the seed's lab is up.
HA_INVENTORY := lab/ha/hosts.yml
lab-ha: bundle venv host-deps
	$(LAB_ANSIBLE) $(BIN)/ansible-playbook -i $(HA_INVENTORY) lab/up.yml
	mkdir -p $(TIMINGS)/lab-ha-$(STAMP)
	KF_TIMINGS_FILE=$(TIMINGS)/lab-ha-$(STAMP) $(LAB_ANSIBLE) $(BIN)/ansible-playbook -i $(HA_INVENTORY) site.yml
	KF_TIMINGS_FILE=$(TIMINGS)/lab-ha-$(STAMP) $(LAB_ANSIBLE) $(BIN)/ansible-playbook -i $(HA_INVENTORY) lab/verify.yml

# The air-gapped bundle: Kubernetes, etcd, coredns, flannel, crictl, CNI binaries built from their Go
# modules and the images assembled from them (cached in /var/cache/kubeadm-flannel; ~45 min cold, <1 min warm).
bundle:
	sh bundle/install-build-deps.sh
	bundle/make-bundle.sh --source source

# The bundle of the release playbooks/upgrade.yml is tested with (the HA scenario's upgrade), beside the first one
# (/var/cache/kubeadm-flannel/bundle-<version>). The Go cache the first one left makes it ~10 min; cold ~40 min.
KUBE_UPGRADE_VERSION := 1.23.17
UPGRADE_BUNDLE := /var/cache/kubeadm-flannel/bundle-$(KUBE_UPGRADE_VERSION)
bundle-upgrade:
	sh bundle/install-build-deps.sh
	bundle/make-bundle.sh --source source --kube-version $(KUBE_UPGRADE_VERSION)

# The part of the bundle the lab scenario (molecule default) needs (cached with the rest; minutes cold).
bundle-dataplane:
	sh bundle/install-build-deps.sh
	bundle/build-from-source.sh crictl flanneld flannel cni-plugins pause

# Kubernetes' own network conformance tests, offline (README, "Conformance"): e2e.test and agnhost from the
# k8s.io/kubernetes tree the bundle builds from, the agnhost and jessie-dnsutils images from Debian packages.
# Verification artifacts (<bundle>/verification/): never in the rollout's manifest, and not what the cluster
# scenario needs (bundle/is-complete.sh --conformance checks them apart).
conformance-build:
	sh bundle/install-build-deps.sh
	bundle/build-from-source.sh e2e.test agnhost
	bundle/build-images.sh agnhost jessie-dnsutils

# The subset against the running lab (make lab first): the conformance images into the nodes (only missing
# ones are imported), then e2e.test in the control-plane node's network namespace.
test-conformance: venv conformance-build
	$(LAB_ANSIBLE) $(BIN)/ansible-playbook lab/verification_images.yml
	scripts/conformance.sh --lab

lab-down: venv
	$(LAB_ANSIBLE) $(BIN)/ansible-playbook lab/down.yml

clean:
	rm -rf $(VENV) .pytest_cache .ansible
