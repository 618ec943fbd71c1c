"""Controller-side helpers of the validate stage (roles/validate), where Jinja alone would be unreadable.

Each filter is a pure function over inventory values and recorded host facts. None of them raises on odd
input (a number where a CIDR is expected, a missing fact, a regex that does not compile): validate must
refuse a bad inventory with a message, never stop with an internal error.
"""
from __future__ import annotations

import ipaddress
import re


def _net(value):
    """An IPv4 network from 'a.b.c.d/n' (host bits allowed), or None."""
    if not isinstance(value, str):
        return None
    try:
        return ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        return None


def _addr(value):
    if not isinstance(value, str):
        return None
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        return None


def ipv4_overlapping(cidr, others):
    """The networks of `others` (CIDR strings) that share at least one address with `cidr`."""
    net = _net(cidr)
    if net is None or not isinstance(others, (list, tuple)):
        return []
    return [o for o in others if _net(o) is not None and net.overlaps(_net(o))]


def _nic_facts(facts, name):
    """The facts of interface `name` (setup stores them under the name with '-' turned into '_')."""
    if not isinstance(facts, dict) or not isinstance(name, str):
        return {}
    nic = facts.get(name.replace('-', '_'))
    return nic if isinstance(nic, dict) else {}


def _ipv4_of(nic):
    """Every IPv4 interface address of one interface's facts, as IPv4Interface."""
    entries = [nic.get('ipv4')] + list(nic.get('ipv4_secondaries') or [])
    found = []
    for entry in entries:
        if isinstance(entry, dict) and _addr(entry.get('address')) is not None:
            prefix = entry.get('prefix') or entry.get('netmask') or '32'
            try:
                found.append(ipaddress.IPv4Interface(f"{entry['address']}/{prefix}"))
            except ValueError:
                found.append(ipaddress.IPv4Interface(entry['address']))
    return found


def iface_regex_select(regex, facts):
    """What flanneld --iface-regex would consider on a host: {'valid': bool, 'matches': [interface names]}.

    flanneld (v0.16 main.go LookupExtIface) searches the regex first in every interface's IPv4 addresses,
    then in interface names, and takes the first hit in kernel index order. Facts do not give that order,
    so every interface the regex hits is returned and the caller requires that there is exactly the right one.
    Python's re stands in for Go's RE2 (unanchored search in both).
    """
    if not isinstance(regex, str) or not regex:
        return {'valid': False, 'matches': []}
    try:
        pattern = re.compile(regex)
    except re.error:
        return {'valid': False, 'matches': []}
    names = facts.get('interfaces') if isinstance(facts, dict) else None
    names = [n for n in names if isinstance(n, str)] if isinstance(names, list) else []
    by_address = [n for n in names if any(pattern.search(str(i.ip)) for i in _ipv4_of(_nic_facts(facts, n)))]
    by_name = [n for n in names if pattern.search(n)]
    return {'valid': True, 'matches': sorted(set(by_address + by_name))}


def cni_leftovers(facts, pod_subnet, node_prefix, patterns=(r'^cni0$', r'^flannel\.\d+$')):
    """Addresses on cni0 / flannel.N that a rollout with this plan could not live with.

    A running node has cni0 = gateway (first host) of its node subnet with the node prefix, and flannel.N =
    network address of its node subnet (/32). Anything else is a leftover of an earlier plan: the bridge
    plugin refuses to add its gateway next to another address ("already has an IP address different from").
    Returns [{'interface', 'address', 'expected'}].
    """
    pod = _net(pod_subnet)
    try:
        prefix = int(node_prefix)
    except (TypeError, ValueError):
        return []
    if pod is None or not isinstance(facts, dict) or not 0 < prefix <= 32:
        return []
    names = facts.get('interfaces') if isinstance(facts.get('interfaces'), list) else []
    found = []
    for name in names:
        if not isinstance(name, str) or not any(re.search(p, name) for p in patterns):
            continue
        is_bridge = name == 'cni0'
        for iface in _ipv4_of(_nic_facts(facts, name)):
            slice_net = ipaddress.IPv4Network(f'{iface.ip}/{prefix}', strict=False)
            wanted = slice_net.network_address + 1 if is_bridge else slice_net.network_address
            good = (iface.ip in pod and slice_net.subnet_of(pod) and iface.ip == wanted
                    and (iface.network.prefixlen == prefix if is_bridge else True))
            if not good:
                found.append({
                    'interface': name, 'address': str(iface.with_prefixlen),
                    'expected': ('the first address of a /%d slice of %s with prefix /%d (e.g. %s/%d)'
                                 % (prefix, pod, prefix, next(pod.subnets(new_prefix=prefix)).network_address + 1,
                                    prefix) if is_bridge and prefix >= pod.prefixlen
                                 else 'the network address of a /%d slice of %s' % (prefix, pod))})
    return found


def route_interface(facts, destination):
    """Which interface the host's facts say traffic to `destination` leaves by.

    {'interface': name or '', 'via': 'connected' | 'default' | 'none' | 'unknown'}: the interface whose
    network holds the address (longest prefix), else the default route's interface. 'unknown' when the
    facts hold no default_ipv4 at all (not gathered): then nothing can be said. Facts list no other routes.
    """
    dest = _addr(destination)
    if dest is None or not isinstance(facts, dict):
        return {'interface': '', 'via': 'unknown'}
    best = None
    names = facts.get('interfaces') if isinstance(facts.get('interfaces'), list) else []
    for name in names:
        if not isinstance(name, str) or name == 'lo':
            continue
        nic = _nic_facts(facts, name)
        if nic.get('active') is False:
            continue
        for iface in _ipv4_of(nic):
            if dest in iface.network and (best is None or iface.network.prefixlen > best[1]):
                best = (name, iface.network.prefixlen)
    if best is not None:
        return {'interface': best[0], 'via': 'connected'}
    if 'default_ipv4' not in facts:
        return {'interface': '', 'via': 'unknown'}
    default = facts.get('default_ipv4') or {}
    if isinstance(default, dict) and default.get('interface'):
        return {'interface': default['interface'], 'via': 'default'}
    return {'interface': '', 'via': 'none'}


_DURATION = re.compile(r'^(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+$')
_UNIT_SECONDS = {'ns': 1e-9, 'us': 1e-6, '\u00b5s': 1e-6, '\u03bcs': 1e-6, 'ms': 1e-3, 's': 1, 'm': 60, 'h': 3600}


def duration_seconds(value):
    """Seconds of a Go duration string ('15m', '1h30m', '90s'), or None when Go's time.ParseDuration
    would refuse it or when it has no unit (a bare '15' or the number 15: 'missing unit in duration')."""
    if value == 0 and not isinstance(value, bool) or value == '0':
        return 0.0  # Go accepts a bare 0 (and only 0) without a unit
    if not isinstance(value, str) or not _DURATION.match(value):
        return None
    return sum(float(num) * _UNIT_SECONDS[unit]
               for num, unit in re.findall(r'(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)', value))


def flag_name(value):
    """A command-line flag as its canonical name: no leading dashes, '_' as '-' (Kubernetes components
    normalize flag names that way), lower case, anything after '=' dropped."""
    return str(value).lstrip('-').split('=', 1)[0].replace('_', '-').lower()


def owned_paths_set(settings, owned, flags=False):
    """The dotted paths of `owned` (e.g. 'networking.podSubnet', 'apiServer.extraArgs.advertise-address') that
    `settings` (a dict merged over the project's own document) sets. Keys of flag maps (a part holding '-',
    or every key with flags=true) are compared by flag_name, so '--node-ip' and 'node_ip' are 'node-ip'."""
    if not isinstance(settings, dict) or not isinstance(owned, (list, tuple)):
        return []
    found = []
    for path in owned:
        node = settings
        ok = True
        for part in str(path).split('.'):
            if not isinstance(node, dict):
                ok = False
                break
            as_flag = flags or '-' in part
            keys = {(flag_name(k) if as_flag else k): k for k in node}
            key = keys.get(flag_name(part) if as_flag else part)
            if key is None:
                ok = False
                break
            node = node[key]
        if ok:
            found.append(path)
    return found


def is_integer(value):
    """True for an int (not a bool) or a string of digits: what flannel's JSON and kubeadm read as a number."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and re.fullmatch(r'[0-9]+', value.strip()) is not None


class FilterModule:
    def filters(self):
        return {
            'ipv4_overlapping': ipv4_overlapping,
            'iface_regex_select': iface_regex_select,
            'cni_leftovers': cni_leftovers,
            'route_interface': route_interface,
            'duration_seconds': duration_seconds,
            'flag_name': flag_name,
            'owned_paths_set': owned_paths_set,
            'is_integer': is_integer,
        }
