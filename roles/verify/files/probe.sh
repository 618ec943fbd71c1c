#!/bin/sh
# Run inside a verify probe pod (kubectl exec ... -- sh -s -- PROBE...): one line of output per probe, in the
# order given, "<probe> rc=<exit status> <what came back>". What the answers must be is decided by the oracle
# (filter_plugins/netcheck.py), not here.
#   dns=NAME         resolve NAME with the pod's resolver (getent: /etc/resolv.conf -> cluster DNS)
#   http=ADDR        GET http://ADDR/; the probe pods' web server answers with the client address it saw
#   df=IP:SIZE       one ping of SIZE bytes on the wire (IPv4 header + ICMP + payload) with don't-fragment set
for probe in "$@"; do
  kind=${probe%%=*}
  target=${probe#*=}
  case $kind in
    dns)
      out=$(getent hosts "$target")
      rc=$?
      # shellcheck disable=SC2086  # first word of getent's line: the address
      set -- $out
      echo "$probe rc=$rc ${1:--}"
      ;;
    http)
      out=$(curl -4 -s -S --max-time 3 "http://$target/" 2>&1)
      echo "$probe rc=$? $(echo "$out" | tr '\n' ' ')"
      ;;
    df)
      out=$(ping -n -M 'do' -c 1 -W 2 -s $((${target##*:} - 28)) "${target%:*}" 2>&1)
      echo "$probe rc=$? $(echo "$out" | grep -iE 'too long|received|unreachable|error' | tr '\n' ' ')"
      ;;
    *)
      echo "$probe rc=2 unknown probe"
      ;;
  esac
done
