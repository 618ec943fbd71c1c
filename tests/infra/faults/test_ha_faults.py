"""The HA control plane survives the loss of one control plane, and says how long the API was gone.

One fault at a time on a rolled-out HA cluster (tests/infra/ha.py makes, measures and undoes each), measured
from the moment it was made to the moment the API answered /readyz through the virtual address again and to a
write (a ConfigMap) succeeding, both seen from a control plane that was not broken:

- the node holding the address powered off (podman stop, no grace): the others stop hearing its VRRP
  advertisements and one takes the address;
- only its API server stopped (its static pod's manifest parked): keepalived's check lowers its priority, the
  address moves, and haproxy everywhere stops sending to it;
- one etcd member stopped (on a node not holding the address): etcd keeps a majority, writes go on.

Then everything is back: verify's oracle is green again, control plane included, with no manual step. The
figures are printed in the run's 'measured' block; benchmarks/ha_failover.py repeats the faults for medians.
Lab only (podman stop/start).
"""
from __future__ import annotations

import time

import pytest

import ha
from conftest import _inventory, run_verify

NAMESPACE = 'kf-ha-faults'


@pytest.fixture(scope='module')
def cp(request) -> ha.ControlPlane:
    found = ha.control_plane(_inventory(request.config))
    assert found.vip, f'{found.inventory}: kube_apiserver_vip is empty: not an HA inventory'
    # (it may be left from an interrupted run: then create fails, and the namespace is there all the same)
    ha.kubectl(found.masters[0], f'create namespace {NAMESPACE}')
    yield found
    ha.kubectl(found.masters[0], f'delete namespace {NAMESPACE} --wait=false')


def test_power_off_of_the_address_holder(cp, measured):
    got = ha.power_off_holder(cp, NAMESPACE, 'test')
    assert len(got['holders_after']) == 1 and got['holders_after'][0] != got['node'], \
        f"after {got['node']} went, the address is held by {got['holders_after']}"
    measured(f"{got['node']} powered off: API through {cp.vip} again after {got['api']:.1f} s, a write after "
             f"{got['write']:.1f} s (seen from {got['witness']}; the address moved to {got['holders_after'][0]})")


def test_api_server_stopped_on_the_address_holder(cp, measured):
    got = ha.stop_api_server_of_holder(cp, NAMESPACE, 'test')
    assert len(got['holders_after']) == 1 and got['holders_after'][0] != got['node'], \
        f"with its API server stopped, {got['node']} still holds the address (holders: {got['holders_after']})"
    measured(f"{got['node']} API server stopped: API through {cp.vip} after {got['api']:.1f} s, a write after "
             f"{got['write']:.1f} s, the address on {got['holders_after'][0]} within {got['moved']:.1f} s")


def test_one_etcd_member_stopped_writes_go_on(cp, measured):
    got = ha.stop_etcd_member(cp, NAMESPACE, 'test')
    measured(f"etcd on {got['node']} stopped ({got['stopped']:.1f} s): {got['writes']} writes through {cp.vip} "
             f"done {got['written']:.1f} s after")


def test_everything_is_green_again(cp, tmp_path):
    report = tmp_path / 'report.json'
    deadline = time.monotonic() + ha.RECOVERY_LIMIT
    while True:
        run = run_verify(cp.inventory, report)
        if run.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(10)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
