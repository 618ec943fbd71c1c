# -*- coding: utf-8 -*-
"""The network report (filter_plugins/network_report.py) from the oracle's own fixtures: the JSON carries every
node and every result, the page is drawn from that JSON alone, each failing check is drawn in red on the node
or pair it concerns, and a real headless Chromium (Debian's package) shows it: its DOM has every node, every
edge and the failing message, its screenshot has red where something failed and none where nothing did.

Chromium loads the page from file:// only, with no proxy, every host name resolving to nothing, and its
background services off; its NetLog (kept in tmp_path) shows that no connection was made.
"""

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from netfacts_helpers import ROOT, load_cases, load_source
from test_netcheck import SETTINGS, break_cluster, healthy_cluster, netcheck

report_mod = load_source("kfa_filter_network_report", os.path.join(ROOT, "filter_plugins", "network_report.py"))

CASES = dict((c.values[0]["id"], c.values[0]) for c in load_cases("netcheck"))
GENERATED = "2026-12-05T10:00:00Z"


def report_of(nodes, settings=SETTINGS, probes=None):
    """What roles/verify/tasks/report.yml writes: the verdict on these views and the views' summary, as JSON."""
    results = netcheck.verify_cluster(copy.deepcopy(nodes), settings, probes)
    report = report_mod.build_report(settings, results, probes, nodes, GENERATED)
    return json.loads(json.dumps(report))


def faulty(case_id):
    case = CASES[case_id]
    return report_of(break_cluster(case), dict(SETTINGS, **(case.get("settings") or {})))


# ------------------------------------------------------------------------------------ reading the page

VOID = {"meta", "br", "img", "link", "input", "hr", "source", "wbr", "area", "base", "col", "embed", "track"}


class Element(object):
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children, self.texts = tag, dict(attrs), parent, [], []

    def text(self):
        """Every piece of text inside, one per text node, joined with spaces."""
        return " ".join(t for t in self.texts if t.strip())

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()

    def classes(self):
        return set((self.attrs.get("class") or "").split())


class Page(HTMLParser):
    """The DOM as a tree of Elements (what chromium --dump-dom serialised, or the page's own text)."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {}, None)
        self.stack = [self.root]
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        element = Element(tag, attrs, self.stack[-1])
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Element(tag, attrs, self.stack[-1]))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        for element in self.stack:
            element.texts.append(data)

    def by_id(self, ident):
        found = [e for e in self.root.walk() if e.attrs.get("id") == ident]
        assert len(found) == 1, "%d elements with id %s" % (len(found), ident)
        return found[0]

    def ids(self, cls):
        return set(e.attrs["id"] for e in self.root.walk() if cls in e.classes() and "id" in e.attrs)


def squeeze(text):
    """Text without whitespace: the drawing wraps long messages into lines of their own."""
    return re.sub(r"\s+", "", text or "")


def red_in(element):
    """The SVG elements inside drawn in the report's red (outline, line or text)."""
    return [e for e in element.walk() if report_mod.RED in (e.attrs.get("stroke"), e.attrs.get("fill"))]


def where_expected(page, result, names):
    place = report_mod.placement(result, names)
    if place[0] == "edge":
        return page.by_id(report_mod.edge_id(*place[1:]))
    if place[0] == "node":
        return page.by_id(report_mod.node_id(place[1]))
    return page.by_id("cluster-failures")


def pairs(names):
    return [(a, b) for i, a in enumerate(sorted(names)) for b in sorted(names)[i + 1:]]


# ------------------------------------------------------------------------------------ the JSON report

def test_the_report_carries_every_node_and_every_result():
    """One host unreachable and one healthy: both are in the report's nodes, every result of the verdict is in
    it unchanged, and what the summary keeps comes from the views."""
    nodes = break_cluster({"unreachable": ["kfa-cap-peer"]})
    results = netcheck.verify_cluster(copy.deepcopy(nodes), SETTINGS)
    report = report_mod.build_report(SETTINGS, results, None, nodes, GENERATED)
    assert report["results"] == results
    assert [n["name"] for n in report["nodes"]] == ["kfa-cap-node", "kfa-cap-peer"]
    assert report["nodes"][1] == {"name": "kfa-cap-peer", "gathered": False, "kubelet": None,
                                  "error": "host failed or unreachable"}
    assert set(r["check"] for r in report["results"]) <= set(netcheck.CHECKS)
    assert report["settings"] == SETTINGS and report["probes"] is None and report["generated"] == GENERATED


def test_the_nodes_summary_holds_what_the_drawing_shows():
    report = report_of(healthy_cluster())
    node, peer = report["nodes"]
    assert node["nic"] == {"name": "enp0s8", "addresses": ["192.168.100.10/24"], "mtu": 1500}
    assert (node["vtep"]["vni"], node["vtep"]["mac"], node["vtep"]["mtu"]) == (1, "a2:12:b0:b8:25:7c", 1450)
    assert node["bridge"]["addresses"] == ["172.16.0.1/24"] and node["subnet_env"]["subnet"] == "172.16.0.0/24"
    assert {"namespace": "default", "name": "myweb2", "ip": "172.16.0.15", "state": "SANDBOX_READY",
            "network": "POD", "pause_pid": 31972, "pause_processes": [31972]} in node["pods"]
    assert node["links"]["kfa-cap-peer"] == {
        "subnet": "172.16.1.0/24", "vtep_mac": "42:7b:d8:d5:f7:8c",
        "route": {"dst": "172.16.1.0/24", "gateway": "172.16.1.0", "dev": "flannel.1", "onlink": True},
        "fdb": [{"mac": "42:7b:d8:d5:f7:8c", "dst": "192.168.100.101", "state": "permanent"}],
        "neighbour": [{"dst": "172.16.1.0", "lladdr": "42:7b:d8:d5:f7:8c", "state": ["PERMANENT"]}]}
    assert peer["links"]["kfa-cap-node"]["route"]["dst"] == "172.16.0.0/24"
    assert not peer["pods_read"]


@pytest.mark.parametrize("result,where", [
    ({"node": "a", "object": "route to 10.0.1.0/24 (b)"}, ("edge", "a", "b")),
    ({"node": "b,a", "object": "FLANNEL_SUBNET"}, ("edge", "a", "b")),
    ({"node": "a", "object": "ClusterIP 10.96.0.9 (endpoint on b-2)"}, ("edge", "a", "b-2")),
    ({"node": "a", "object": "flannel.1"}, ("node", "a")),
    ({"node": "b-2", "object": "pod default/b"}, ("edge", "b", "b-2")),
    ({"node": "cluster", "object": "VTEP mtu"}, ("cluster",)),
], ids=["peer-in-object", "pair-in-node", "longest-name-wins", "own-object", "pod-named-like-a-node", "cluster"])
def test_each_result_is_placed_where_it_belongs(result, where):
    assert report_mod.placement(result, ["a", "b", "b-2"]) == where


# ------------------------------------------------------------------------------------ the page, drawn

def test_the_page_is_drawn_from_the_json_alone_and_is_self_contained(tmp_path):
    """The script draws a recorded report into the page verify writes; the page loads nothing from anywhere."""
    report = faulty("route-to-peer-missing")
    recorded = tmp_path / "network.json"
    recorded.write_text(json.dumps(report, indent=2))
    page = tmp_path / "network.html"
    run = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "network_report.py"), str(recorded),
                          "-o", str(page)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    text = page.read_text()
    assert text == report_mod.render_html(report)
    assert "<svg" in text, "no drawing: is Graphviz installed? (sh scripts/install-host-deps.sh --report)"
    for needle in ("<script", "<link", "<img", " src=", "href=", "url(", "@import"):
        assert needle not in text.lower(), needle
    # no attribute names anything to load: the only URLs in attributes are XML namespace names (and text, such
    # as a kubelet's health URL in a message, is only text)
    urls = set((e.tag, k, v) for e in Page(text).root.walk() for k, v in e.attrs.items() if "://" in (v or ""))
    assert urls <= {("svg", "xmlns", "http://www.w3.org/2000/svg"), ("svg", "xmlns:xlink", "http://www.w3.org/1999/xlink")}
    assert "default-src 'none'" in text


def test_a_report_without_nodes_is_drawn_from_its_results():
    """A report verify wrote before it kept the nodes (only settings and results): the nodes its results name."""
    report = faulty("route-to-peer-missing")
    del report["nodes"]
    page = Page(report_mod.render_html(report))
    assert page.ids("node") == {"node-kfa-cap-node", "node-kfa-cap-peer"}
    assert page.ids("failed") == {"edge-kfa-cap-node--kfa-cap-peer"}


def test_healthy_fixtures_draw_every_node_and_edge_and_nothing_red():
    report = report_of(healthy_cluster())
    page = Page(report_mod.render_html(report))
    names = [n["name"] for n in report["nodes"]]
    assert page.ids("node") == set(report_mod.node_id(n) for n in names)
    assert page.ids("edge") == set(report_mod.edge_id(a, b) for a, b in pairs(names))
    assert page.ids("failed") == set() and red_in(page.by_id("drawing")) == []


@pytest.mark.parametrize("case", [c for c in load_cases("netcheck") if c.values[0]["fails"]])
def test_every_failing_check_is_drawn_red_where_it_belongs(case):
    """Each case of the oracle's (cases/netcheck.yaml) breaks one thing: every check that fails is drawn with its
    message in red on its node, on its pair's edge, or (about no node) in the cluster-wide list."""
    report = faulty(case["id"])
    page = Page(report_mod.render_html(report))
    names = report_mod.node_names(report)
    failed = [r for r in report["results"] if not r["ok"]]
    assert failed
    for result in failed:
        element = where_expected(page, result, names)
        assert squeeze(result["message"]) in squeeze(element.text()), (result["message"], element.text())
        if element.tag == "g":
            assert "failed" in element.classes() and red_in(element), element.attrs
    drawn = set(e.attrs["id"] for e in (where_expected(page, r, names) for r in failed) if e.tag == "g")
    assert page.ids("failed") == drawn


def test_a_large_cluster_is_drawn_with_its_failing_pairs_only():
    """45 nodes (990 pairs, 5 940 pair results): a grid of boxes, an edge only for the pair with a failing check,
    the page saying how many pairs it leaves out and listing only the results that did not pass."""
    names = ["node%02d" % i for i in range(45)]
    results = [{"check": check, "node": a, "object": "%s (%s)" % (check, b), "ok": True, "status": "ok",
                "message": "ok: %s on %s (%s)" % (check, a, b)}
               for a in names for b in names if a != b
               for check in ("route_to_peer", "fdb_to_peer", "neighbour_to_peer")]
    results[0].update(ok=False, status="FAILED", message="FAILED: route_to_peer on node00 (node01): no route")
    page = Page(report_mod.render_html({"settings": SETTINGS, "results": results}))
    assert page.ids("node") == set(report_mod.node_id(n) for n in names)
    assert page.ids("edge") == page.ids("failed") == {report_mod.edge_id("node00", "node01")}
    assert "989 pairs without one and 0 more with one are left out" in page.by_id("pairs-left-out").text()
    assert [squeeze(r.text()) for r in page.by_id("results").walk() if r.tag == "tr"][1:] == [
        squeeze("route_to_peer node00 route_to_peer (node01) FAILED " + results[0]["message"])]


# ------------------------------------------------------------------------------------ in a real browser

def chromium():
    for name in ("chromium", "chromium-headless-shell"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("Chromium is not installed: sh scripts/install-host-deps.sh --report (make report-deps; "
                "make test-unit installs it)")


def browser(page, out, *mode):
    """Debian's Chromium, headless, on file:// only: no proxy, every name resolves to nothing, no background
    network, a profile of its own; its NetLog is kept to show nothing went out."""
    argv = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
            "--no-proxy-server", "--host-resolver-rules=MAP * ~NOTFOUND", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
            "--disable-domain-reliability", "--disable-breakpad", "--metrics-recording-only",
            "--user-data-dir=%s" % (out / "profile"), "--log-net-log=%s" % (out / "netlog.json"),
            "--hide-scrollbars", "--window-size=1400,1800", *mode, "file://%s" % page]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    nothing_went_out(out / "netlog.json")
    return run.stdout


def nothing_went_out(netlog):
    """From Chromium's own NetLog: no byte sent on any socket, every name lookup failed, every connect failed."""
    log = json.loads(netlog.read_text())
    kinds = dict((number, name) for name, number in log["constants"]["logEventTypes"].items())
    sent, connected = [], []
    for event in log["events"]:
        kind, params = kinds[event["type"]], event.get("params") or {}
        if kind in ("SOCKET_BYTES_SENT", "UDP_BYTES_SENT", "SSL_SOCKET_BYTES_SENT"):
            sent.append(params)
        if kind in ("TCP_CONNECT", "TCP_CONNECT_JOB_CONNECT", "HOST_RESOLVER_MANAGER_REQUEST") \
                and event.get("phase") == 2 and not params.get("net_error"):
            connected.append((kind, params))
    assert sent == [] and connected == [], (sent, connected)


def open_in_browser(report, tmp_path, label):
    out = tmp_path / label
    out.mkdir()
    page = out / "network.html"
    page.write_text(report_mod.render_html(report))
    dom = Page(browser(page, out, "--dump-dom"))
    shot = out / "screenshot.png"
    browser(page, out, "--screenshot=%s" % shot)
    assert shot.stat().st_size > 0
    return dom, shot


def red_pixels(png):
    from PIL import Image

    target = tuple(int(report_mod.RED[i:i + 2], 16) for i in (1, 3, 5))
    with Image.open(png) as image:
        data = image.convert("RGB").tobytes()
    return sum(1 for i in range(0, len(data), 3) if all(abs(data[i + c] - target[c]) < 24 for c in range(3)))


def test_browser_shows_the_healthy_fixtures_without_red(tmp_path):
    report = report_of(healthy_cluster())
    dom, shot = open_in_browser(report, tmp_path, "healthy")
    names = [n["name"] for n in report["nodes"]]
    for node in report["nodes"]:
        text = squeeze(dom.by_id(report_mod.node_id(node["name"])).text())
        for fact in (node["name"], node["node_ip"], node["vtep"]["mac"], node["bridge"]["addresses"][0],
                     node["subnet_env"]["subnet"]):
            assert squeeze(fact) in text, fact
        for pod in node["pods"]:
            assert squeeze("%s/%s" % (pod["namespace"], pod["name"])) in text
            assert squeeze("pause %s" % pod["pause_pid"]) in text
    for a, b in pairs(names):
        edge = squeeze(dom.by_id(report_mod.edge_id(a, b)).text())
        assert squeeze("%s -> %s" % (a, b)) in edge and squeeze("%s -> %s" % (b, a)) in edge
        assert squeeze("route 172.16.1.0/24 via 172.16.1.0 dev flannel.1 onlink") in edge
    assert dom.ids("failed") == set() and red_in(dom.by_id("drawing")) == []
    assert red_pixels(shot) == 0


@pytest.mark.parametrize("case_id,where", [
    ("route-to-peer-missing", "edge-kfa-cap-node--kfa-cap-peer"),
    ("vtep-mtu-equals-underlay", "node-kfa-cap-node"),
])
def test_browser_shows_the_fault_in_red_with_its_message(tmp_path, case_id, where):
    """One thing broken in the recorded facts: the browser draws that edge (a route gone) or that node (its VTEP
    MTU wrong) in red, with the failing check's message, and the screenshot has red in it."""
    report = faulty(case_id)
    dom, shot = open_in_browser(report, tmp_path, case_id)
    element = dom.by_id(where)
    assert "failed" in element.classes() and red_in(element)
    failed = [r for r in report["results"] if not r["ok"]]
    local = [r for r in failed if report_mod.placement(r, report_mod.node_names(report))[0] != "cluster"]
    assert local
    for result in local:
        assert squeeze(result["message"]) in squeeze(element.text())
        assert squeeze(result["message"]) in squeeze(dom.by_id("failures").text())
    assert dom.ids("node") == {"node-kfa-cap-node", "node-kfa-cap-peer"}
    assert dom.ids("edge") == {"edge-kfa-cap-node--kfa-cap-peer"}
    assert red_pixels(shot) > 100
