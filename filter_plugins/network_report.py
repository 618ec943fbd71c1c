# -*- coding: utf-8 -*-
# The network report: what verify found, for people. verify (roles/verify/tasks/report.yml) writes one JSON
# document per run (settings, every check's result, the probes, and a summary of every node's facts made here),
# and a self-contained HTML page drawn from that document alone; scripts/network_report.py draws the same page
# again from a recorded document. The drawing is laid out by Graphviz (the `graphviz` Python package driving
# Debian's `dot`/`neato`): each node a box with its cluster NIC, VTEP, bridge, pod subnet and pods, an edge per
# node pair with each side's route, FDB entry and neighbour towards the other, and every failing check in red
# on the node or edge it concerns. Judging is the oracle's business (netcheck.py): nothing here decides
# whether something is right, it only places what the oracle said.

from __future__ import annotations

import html
import ipaddress
import re

# A report document this module writes and reads; a later shape gets a new number.
REPORT_FORMAT = 1

# Colours of the drawing and the page: failures in red, what could not run in grey.
RED = "#c62828"
GREY = "#757575"
INK = "#263238"
HEAD = "#e3ecf7"

# Messages are wrapped at this many characters inside the drawing's boxes.
WRAP = 72

# Every node pair is an edge up to this many nodes. Graphviz's layout of all N*(N-1)/2 labelled edges grows far
# faster than N (here: 0.2 s at 12 nodes, 0.8 s at 15, a minute at 30), so a larger cluster gets its nodes in
# rows of GRID_COLUMNS and an edge only for the pairs with a failing check, at most MAX_FAILED_PAIRS of them;
# the page says how many pairs it leaves out (the JSON and the table below the drawing have them all).
ALL_PAIRS_UP_TO = 16
GRID_COLUMNS = 4
MAX_FAILED_PAIRS = 60
# The table below the drawing lists every result up to this many; beyond (three per node pair: 30 000 at 100
# nodes), only those that failed or did not run, and how many passed.
ALL_ROWS_UP_TO = 5000


# ------------------------------------------------------------------------------------ the facts summary

def _subnet_of(view):
    env = (view.get("flannel") or {}).get("subnet_env") or {}
    return env.get("subnet") if env.get("present") else None


def _peer_address(subnet):
    """The address flannel gives a node's lease on its VTEP (the lease's network address)."""
    try:
        return str(ipaddress.ip_network(u"%s" % subnet, strict=False).network_address)
    except ValueError:
        return None


def _links(view, peers):
    """What this node's own state says about the way to each peer: the route to the peer's lease, the FDB
    entries for the peer's VTEP MAC, the neighbour entries for the peer's lease address (facts, not verdicts)."""
    flannel = view.get("flannel") or {}
    out = {}
    for peer in peers:
        subnet = _subnet_of(peer)
        mac = (((peer.get("flannel") or {}).get("vtep") or {}).get("mac") or "").lower() or None
        address = _peer_address(subnet) if subnet else None
        routes = [r for r in flannel.get("routes") or [] if subnet and r.get("dst") == subnet]
        out[peer["name"]] = {
            "subnet": subnet,
            "vtep_mac": mac,
            "route": ({k: routes[0].get(k) for k in ("dst", "gateway", "dev", "onlink")} if routes else None),
            "fdb": [{"mac": e.get("mac"), "dst": e.get("dst"), "state": e.get("state")}
                    for e in flannel.get("fdb") or [] if mac and (e.get("mac") or "").lower() == mac],
            "neighbour": [{"dst": e.get("dst"), "lladdr": e.get("lladdr"), "state": e.get("state")}
                          for e in flannel.get("neighbours") or [] if address and e.get("dst") == address],
        }
    return out


def _pods(view):
    facts = view.get("pod_sandboxes") or {}
    pods = []
    for pod in facts.get("sandboxes") or []:
        pods.append({"namespace": pod.get("namespace"), "name": pod.get("name"), "ip": pod.get("ip"),
                     "state": pod.get("state"),
                     "network": (pod.get("namespace_options") or {}).get("network"),
                     "pause_pid": pod.get("pid"), "pause_processes": pod.get("pause_processes")})
    return pods


def report_nodes(nodes):
    """A summary of every node's view (netcheck.collect_nodes' list: the facts gather.yml kept), in the shape
    the page draws: cluster NIC, VTEP, subnet.env, bridge, pods, and per peer the route, FDB and neighbour
    entries this node holds towards it. A node that could not be read keeps only why."""
    readable = [n for n in nodes if n.get("gathered") is not False]
    out = []
    for view in nodes:
        kubelet = view.get("kubelet") or {}
        summary = {"name": view["name"], "gathered": view.get("gathered") is not False,
                   "kubelet": {"status": kubelet.get("status"), "body": kubelet.get("body"),
                               "error": kubelet.get("error")} if kubelet else None}
        if not summary["gathered"]:
            summary["error"] = view.get("error") or "host failed or unreachable"
            out.append(summary)
            continue
        flannel = view.get("flannel") or {}
        vtep = flannel.get("vtep") or {}
        env = flannel.get("subnet_env") or {}
        bridge = (view.get("cni") or {}).get("bridge") or {}
        summary.update({
            "node_ip": view.get("node_ip"),
            "nic": {"name": vtep.get("dev"), "addresses": vtep.get("underlay_addresses") or [],
                    "mtu": vtep.get("underlay_mtu")},
            "vtep": {"present": bool(vtep.get("present")), "name": vtep.get("name"), "vni": vtep.get("vni"),
                     "mac": vtep.get("mac"), "mtu": vtep.get("mtu"), "local": vtep.get("local"),
                     "dstport": vtep.get("dstport"), "addresses": vtep.get("addresses") or [],
                     "up": vtep.get("up")},
            "subnet_env": {"present": bool(env.get("present")), "network": env.get("network"),
                           "subnet": env.get("subnet"), "mtu": env.get("mtu"), "ipmasq": env.get("ipmasq")},
            "bridge": {"present": bool(bridge.get("present")), "name": bridge.get("name"),
                       "addresses": bridge.get("addresses") or [], "mtu": bridge.get("mtu"),
                       "up": bridge.get("up"), "ports": len(bridge.get("ports") or [])},
            "pods": _pods(view),
            "pods_read": bool((view.get("pod_sandboxes") or {}).get("present")),
            "links": _links(view, [p for p in readable if p["name"] != view["name"]]),
        })
        out.append(summary)
    return out


def build_report(settings, results, probes, nodes, generated=None):
    """The one document of a run: the verdict as verify_report_file always carried it, plus the nodes."""
    return {"format": REPORT_FORMAT, "generated": generated, "settings": settings, "results": list(results),
            "probes": probes, "nodes": report_nodes(list(nodes))}


# ------------------------------------------------------------------------------------ where a result belongs

def _named(text, names):
    """The node names ``text`` mentions as words of their own (a name inside a longer host name is not one)."""
    words = set()
    for word in re.findall(r"[\w.-]+", text or ""):
        words.update((word, word.rstrip(".")))
    return [n for n in words if n in names]


def placement(result, names):
    """Where the drawing shows a result: ('edge', a, b) for a node pair, ('node', name), or ('cluster',).

    A result about a pair names both nodes in its node field ("a,b"), or names one node and, in its object,
    the other (route to 172.16.1.0/24 (k8s-w1), ClusterIP ... (endpoint on k8s-w1)). Everything else about a
    node is on that node; what is about no node is the cluster's."""
    names = names if isinstance(names, (set, frozenset, dict)) else set(names)
    node = str(result.get("node") or "")
    parts = node.split(",")
    if len(parts) == 2 and all(p in names for p in parts) and parts[0] != parts[1]:
        return ("edge",) + tuple(sorted(parts))
    if node in names:
        others = [n for n in _named(result.get("object"), names) if n != node]
        if others:
            peer = max(others, key=lambda n: (len(n), n))
            return ("edge",) + tuple(sorted((node, peer)))
        return ("node", node)
    return ("cluster",)


def node_id(name):
    return "node-%s" % name


def edge_id(a, b):
    return "edge-%s--%s" % tuple(sorted((a, b)))


# ------------------------------------------------------------------------------------ drawing

def _e(value):
    """Text for a Graphviz HTML-like label."""
    return html.escape("%s" % ("-" if value is None or value == "" else value), quote=True)


def _wrap(text, width=WRAP):
    words, lines, line = str(text).split(" "), [], ""
    for word in words:
        while len(word) > width:
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:width])
            word = word[width:]
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = "%s %s" % (line, word) if line else word
    lines.append(line)
    return lines


def _cell(text, colour=INK, bold=False):
    inner = '<BR ALIGN="LEFT"/>'.join(_e(line) for line in _wrap(text)) + '<BR ALIGN="LEFT"/>'
    if bold:
        inner = "<B>%s</B>" % inner
    return '<TR><TD ALIGN="LEFT" BALIGN="LEFT"><FONT COLOR="%s">%s</FONT></TD></TR>' % (colour, inner)


def _failures(results):
    return [r for r in results if not r.get("ok")]


def _tally(results):
    bad = len(_failures(results))
    skipped = sum(1 for r in results if r.get("status") == "not run")
    return "%d checks: %d failed, %d not run" % (len(results), bad, skipped)


def _node_label(node, results):
    name = node["name"]
    failed = _failures(results)
    rows = ['<TR><TD BGCOLOR="%s"><FONT COLOR="%s"><B>%s</B></FONT></TD></TR>'
            % (RED if failed else HEAD, "white" if failed else INK, _e(name))]
    if not node.get("gathered", True):
        rows.append(_cell("not read: %s" % node.get("error"), RED))
    elif "nic" in node:
        nic, vtep, env, bridge = node["nic"], node["vtep"], node["subnet_env"], node["bridge"]
        rows.append(_cell("cluster NIC %s %s mtu %s (node IP %s)" % (
            nic.get("name") or "?", ", ".join(nic.get("addresses") or []) or "no IPv4", nic.get("mtu"),
            node.get("node_ip"))))
        if vtep.get("present"):
            rows.append(_cell("VTEP %s VNI %s MAC %s MTU %s local %s port %s %s" % (
                vtep.get("name"), vtep.get("vni"), vtep.get("mac"), vtep.get("mtu"), vtep.get("local"),
                vtep.get("dstport"), ", ".join(vtep.get("addresses") or []))))
        else:
            rows.append(_cell("no VTEP"))
        if bridge.get("present"):
            rows.append(_cell("%s %s MTU %s, %s ports" % (bridge.get("name"), ", ".join(bridge.get("addresses")),
                                                        bridge.get("mtu"), bridge.get("ports"))))
        else:
            rows.append(_cell("no bridge"))
        rows.append(_cell("pod subnet %s (network %s, FLANNEL_MTU %s)" % (
            env.get("subnet") if env.get("present") else "none: no subnet.env", env.get("network"), env.get("mtu"))))
        if node.get("pods_read"):
            for pod in node.get("pods") or []:
                where = pod.get("ip") or ("host network" if pod.get("network") == "NODE" else "no IP")
                state = "" if pod.get("state") == "SANDBOX_READY" else " (%s)" % pod.get("state")
                rows.append(_cell("pod %s/%s %s pause %s%s" % (pod.get("namespace"), pod.get("name"), where,
                                                              pod.get("pause_pid"), state)))
            if not node.get("pods"):
                rows.append(_cell("no pods"))
        else:
            rows.append(_cell("pods not read (no crictl)", GREY))
    for res in failed:
        rows.append(_cell(res.get("message"), RED, bold=True))
    rows.append(_cell(_tally(results), RED if failed else GREY))
    return ('<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3" BGCOLOR="white">%s</TABLE>>'
            % "".join(rows))


def _side(src, dst, link):
    """One direction of an edge: what src holds towards dst (route, FDB, neighbour), as lines."""
    if link is None:
        return ["%s -> %s: not read" % (src, dst)]
    route = link.get("route")
    lines = ["%s -> %s" % (src, dst)]
    lines.append("route %s via %s dev %s%s" % (route.get("dst"), route.get("gateway"), route.get("dev"),
                                               " onlink" if route.get("onlink") else "")
                 if route else "no route to %s" % (link.get("subnet") or "its lease"))
    lines += ["fdb %s dst %s %s" % (e.get("mac"), e.get("dst"), e.get("state") or "") for e in link.get("fdb") or []
              ] or ["no fdb entry for %s" % (link.get("vtep_mac") or "its VTEP (none)")]
    lines += ["neigh %s lladdr %s %s" % (e.get("dst"), e.get("lladdr"), "/".join(e.get("state") or []))
              for e in link.get("neighbour") or []] or ["no neighbour entry for its lease"]
    return lines


def _edge_label(a, b, nodes_by_name, results):
    rows = []
    for src, dst in ((a, b), (b, a)):
        links = (nodes_by_name.get(src) or {}).get("links")
        lines = _side(src, dst, links.get(dst) if links else None)
        rows.append(_cell(lines[0], bold=True))
        rows += [_cell("  " + line) for line in lines[1:]]
    failed = _failures(results)
    for res in failed:
        rows.append(_cell(res.get("message"), RED, bold=True))
    rows.append(_cell(_tally(results), RED if failed else GREY))
    return '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1" BGCOLOR="white">%s</TABLE>>' % (
        "".join(rows))


def node_names(report):
    """Every node of a report: its nodes, or (a document from before they were kept) the results' nodes."""
    if report.get("nodes"):
        return [n["name"] for n in report["nodes"]]
    names = []
    for res in report.get("results") or []:
        for part in str(res.get("node") or "").split(","):
            if part and part != "cluster" and part not in names:
                names.append(part)
    return names


def layout(report):
    """Results grouped where they are drawn: {'nodes': {name: [...]}, 'edges': {(a, b): [...]}, 'cluster': [...]}."""
    names = node_names(report)
    known = set(names)
    where = {"nodes": dict((n, []) for n in names), "cluster": [],
             "edges": dict(((a, b), []) for i, a in enumerate(sorted(names)) for b in sorted(names)[i + 1:])}
    for res in report.get("results") or []:
        place = placement(res, known)
        if place[0] == "edge":
            where["edges"].setdefault(place[1:], []).append(res)
        elif place[0] == "node":
            where["nodes"][place[1]].append(res)
        else:
            where["cluster"].append(res)
    return where


def drawn_pairs(report, where=None):
    """The pairs the drawing has an edge for, and how many healthy and failing pairs it leaves out."""
    where = where or layout(report)
    pairs = sorted(where["edges"].items())
    if len(node_names(report)) <= ALL_PAIRS_UP_TO:
        return pairs, 0, 0
    failing = [(pair, results) for pair, results in pairs if _failures(results)]
    return failing[:MAX_FAILED_PAIRS], len(pairs) - len(failing), max(0, len(failing) - MAX_FAILED_PAIRS)


def graph_source(report, where=None):
    """The Graphviz graph of a report (graphviz.Graph); ``render_svg`` lays it out."""
    import graphviz  # the controller's venv has it (requirements.txt); imported here so netcheck never needs it

    names = node_names(report)
    by_name = dict((n["name"], n) for n in report.get("nodes") or [])
    where = where or layout(report)
    graph = graphviz.Graph("network", engine="dot")
    graph.attr(overlap="false", sep="+24", splines="true", rankdir="TB", fontname="DejaVu Sans", pad="0.3",
               nodesep="0.8", ranksep="1.0", bgcolor="white")
    graph.attr("node", shape="plain", fontname="DejaVu Sans", fontsize="11")
    graph.attr("edge", fontname="DejaVu Sans", fontsize="10", penwidth="2")
    grid = len(names) > ALL_PAIRS_UP_TO
    rows = [names[i:i + GRID_COLUMNS] for i in range(0, len(names), GRID_COLUMNS)] if grid else [names]
    for number, row in enumerate(rows):
        with graph.subgraph(name="row%d" % number) as sub:
            if grid:
                sub.attr(rank="same")
            for name in row:
                node = by_name.get(name) or {"name": name}
                results = where["nodes"].get(name) or []
                bad = bool(_failures(results))
                sub.node(name, label=_node_label(node, results), id=node_id(name),
                         **{"class": "failed" if bad else "ok", "color": RED if bad else INK})
        if grid and number:
            # keeps the rows one under the other; drawn as nothing
            graph.edge(rows[number - 1][0], row[0], style="invis")
    for (a, b), results in drawn_pairs(report, where)[0]:
        bad = bool(_failures(results))
        graph.edge(a, b, label=_edge_label(a, b, by_name, results), id=edge_id(a, b),
                   color=RED if bad else INK, fontcolor=RED if bad else INK, penwidth="4" if bad else "2",
                   **{"class": "failed" if bad else "ok"})
    return graph


def render_svg(report, where=None):
    """The drawing as SVG text (no XML prolog or DOCTYPE: it goes inline into the page)."""
    svg = graph_source(report, where).pipe(format="svg", encoding="utf-8")
    return svg[svg.index("<svg"):]


# ------------------------------------------------------------------------------------ the page

STYLE = """
body { font-family: "DejaVu Sans", sans-serif; color: %(ink)s; margin: 1.5em; }
h1 { font-size: 1.4em; margin: 0 0 .3em 0; }
.verdict.ok { color: #2e7d32; } .verdict.failed, .failed-check, tr.failed td { color: %(red)s; }
tr.not-run td { color: %(grey)s; }
figure { margin: 1em 0; overflow: auto; border: 1px solid #cfd8dc; }
figure svg { display: block; max-width: 100%%; height: auto; margin: 0 auto; }
table.results { border-collapse: collapse; font-size: .85em; }
table.results td, table.results th { border: 1px solid #cfd8dc; padding: 2px 6px; text-align: left;
                                     vertical-align: top; }
.settings { font-size: .9em; color: %(grey)s; }
""" % {"ink": INK, "red": RED, "grey": GREY}


def _status(res):
    return res.get("status") or ("ok" if res.get("ok") else "FAILED")


def render_html(report):
    """The page: a heading with the verdict, the drawing, the failing checks, then every result. Nothing in it
    is fetched: the SVG and the CSS are inline, and the page forbids loading anything else."""
    results = report.get("results") or []
    failed = _failures(results)
    where = layout(report)
    names = node_names(report)
    try:
        drawing = render_svg(report, where)
    except Exception as err:  # noqa: BLE001 - no Graphviz on this machine: the page still says everything else
        drawing = ('<p class="failed-check">No drawing: Graphviz could not lay it out (%s). Install Debian\'s '
                   'graphviz and the pinned Python package graphviz (scripts/install-host-deps.sh, '
                   'requirements.txt).</p>' % html.escape(str(err)))
    settings = report.get("settings") or {}
    shown = ", ".join("%s %s" % (k, settings[k]) for k in ("pod_subnet", "node_prefix", "vni", "vxlan_port",
                                                           "bridge") if k in settings)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # a report page must never reach out: forbid every load, keep only the inline style
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">',
        "<title>Network report: %s</title>" % html.escape(", ".join(names)),
        "<style>%s</style></head><body>" % STYLE,
        '<h1>Network report <span class="verdict %s">%s</span></h1>' % (
            "failed" if failed else "ok", "%d failed" % len(failed) if failed else "all checks passed"),
        '<p class="settings">%s &middot; %d nodes &middot; %s &middot; %s</p>' % (
            html.escape(str(report.get("generated") or "time not recorded")), len(names), html.escape(_tally(results)),
            html.escape(shown)),
    ]
    cluster_failed = _failures(where["cluster"])
    if cluster_failed:
        parts.append('<h2>Cluster-wide</h2><ul id="cluster-failures">%s</ul>' % "".join(
            '<li class="failed-check">%s</li>' % html.escape(r.get("message") or "") for r in cluster_failed))
    _, healthy_left_out, failing_left_out = drawn_pairs(report, where)
    if healthy_left_out or failing_left_out:
        parts.append('<p class="settings" id="pairs-left-out">%d nodes: the drawing has an edge only for pairs with a '
                     "failing check; %d pairs without one and %d more with one are left out of it (every result is "
                     "in the table below and in the JSON).</p>" % (len(names), healthy_left_out, failing_left_out))
    parts.append('<figure id="drawing">%s</figure>' % drawing)
    if failed:
        parts.append('<h2>Failed checks</h2><ul id="failures">%s</ul>' % "".join(
            '<li class="failed-check">%s</li>' % html.escape(r.get("message") or "") for r in failed))
    listed = results if len(results) <= ALL_ROWS_UP_TO else [r for r in results if _status(r) != "ok"]
    rows = "".join('<tr class="%s"><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>' % (
        {"FAILED": "failed", "not run": "not-run"}.get(_status(r), "ok"), html.escape(str(r.get("check"))),
        html.escape(str(r.get("node"))), html.escape(str(r.get("object"))), html.escape(_status(r)),
        html.escape(str(r.get("message")))) for r in sorted(listed, key=lambda r: (r.get("ok"), str(r.get("node")))))
    parts.append("<h2>Every check</h2>")
    if len(listed) < len(results):
        parts.append('<p class="settings">%d results that passed are not listed here (they are in the JSON).</p>'
                     % (len(results) - len(listed)))
    parts.append('<table class="results" id="results"><tr><th>check</th><th>node</th>'
                 "<th>object</th><th>status</th><th>message</th></tr>%s</table>" % rows)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# ------------------------------------------------------------------------------------ filters

class FilterModule(object):
    """network_report(settings, results, probes, nodes[, generated]) -> the report document;
    network_report_html(report) -> the page."""

    def filters(self):
        return {
            "network_report": lambda settings, results, probes, nodes, generated=None: build_report(
                dict(settings), list(results), dict(probes) if probes else None, list(nodes), generated),
            "network_report_html": lambda report: render_html(dict(report)),
        }
