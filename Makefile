# Two commands matter (see README):  make lab   (bring up the lab and roll the cluster out)
#                                     make test  (everything CI runs)
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# Tools from the venv come first, so ansible, molecule and pytest are the pinned ones.
export PATH := $(abspath $(BIN)):$(PATH)
export ANSIBLE_CONFIG := $(abspath ansible.cfg)

.PHONY: help venv host-deps lint test test-unit test-lab test-dataplane test-cluster lab lab-up lab-down bundle clean

help:
	@echo "make lab       build the bundle (cached), bring up the three podman nodes, run site.yml on them"
	@echo "make lab-down  remove the lab (nodes, networks); keeps the cached image"
	@echo "make test      lint, syntax, unit, render and validate tests, then the molecule lab scenario"
	@echo "make test-unit everything but the lab scenario (no podman needed)"
	@echo "make bundle    build the air-gapped binaries from Go modules into /var/cache/kubeadm-flannel/bundle"

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

venv: $(BIN)/.installed

host-deps:
	sh scripts/install-host-deps.sh

lint: venv
	$(BIN)/yamllint --strict .
	$(BIN)/ansible-lint --profile production

test-unit: venv
	$(BIN)/python -m pytest

# The lab scenario: podman nodes, stages 1-3 converged twice (idempotence), testinfra, fault injection.
test-lab: venv host-deps
	NO_COLOR=1 PY_COLORS=0 ANSIBLE_NOCOLOR=1 ANSIBLE_CALLBACKS_ENABLED=ansible.posix.timer $(BIN)/molecule test

test: test-unit test-lab

# Not yet in `make test` (no clean-clone CI run yet): they need the bundle (make bundle).
# flanneld + etcd + CRI pods on the lab, checked and broken by tests/infra.
test-dataplane: venv host-deps bundle
	NO_COLOR=1 PY_COLORS=0 ANSIBLE_NOCOLOR=1 ANSIBLE_CALLBACKS_ENABLED=ansible.posix.timer $(BIN)/molecule test -s dataplane

# The whole site.yml from the bundle on the lab, idempotence, node checks.
test-cluster: venv host-deps bundle
	NO_COLOR=1 PY_COLORS=0 ANSIBLE_NOCOLOR=1 ANSIBLE_CALLBACKS_ENABLED=ansible.posix.timer $(BIN)/molecule test -s cluster

lab-up: venv host-deps
	$(BIN)/ansible-playbook playbooks/lab_up.yml

# The main job: the lab rolled out from the bundle (inventories/lab: kube_binaries_source=bundle).
lab: bundle lab-up
	$(BIN)/ansible-playbook site.yml

# The air-gapped bundle: Kubernetes, etcd, coredns, flannel, crictl, CNI binaries built from their Go
# modules and the images assembled from them (cached in /var/cache/kubeadm-flannel; ~45 min cold, <1 min warm).
bundle:
	sh bundle/install-build-deps.sh
	bundle/make-bundle.sh --source source

lab-down: venv
	$(BIN)/ansible-playbook playbooks/lab_down.yml

clean:
	rm -rf $(VENV) .pytest_cache .ansible
