#!/bin/sh
# The lab's artifact mirror: the bundle directory served read-only over HTTP from the lab's outside
# namespace, the way a site serves its bundle from a machine next to its nodes (kubernetes_bundle_url).
# Nodes fetch from it themselves (python3's http.server, no other package), instead of receiving every
# binary and image archive over SSH from Ansible. Each fetched file is still checked on the node against the
# manifest on the controller, so what serves it needs no trust. Called by lab/roles/lab/tasks/mirror.yml
# and remove.yml; idempotent, prints "changed: ..." for what it did.
#
#   lab-bundle-mirror.sh start NS ADDRESS PORT DIR RUNDIR
#   lab-bundle-mirror.sh stop RUNDIR
set -eu
say() { echo "changed: $*"; }
usage() { echo "usage: $0 start NS ADDRESS PORT DIR RUNDIR | stop RUNDIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
action=$1
case $action in
    start) [ $# -eq 6 ] || usage; ns=$2 address=$3 port=$4 dir=$5 rundir=$6 ;;
    stop) [ $# -eq 2 ] || usage; rundir=$2 ;;
    *) usage ;;
esac
pidfile=$rundir/bundle-mirror.pid
argsfile=$rundir/bundle-mirror.args
log=$rundir/bundle-mirror.log

running() { [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

stop() {
    if running; then
        pid=$(cat "$pidfile")
        kill "$pid"
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        say "stopped the bundle mirror (pid $pid)"
    fi
    rm -f "$pidfile" "$argsfile" "$log"
}

if [ "$action" = stop ]; then stop; exit 0; fi

want="$ns $address $port $dir"
if running && [ "$(cat "$argsfile" 2>/dev/null)" = "$want" ]; then exit 0; fi
stop
mkdir -p "$rundir"
# The directory may not exist yet (make bundle after the lab is up): http.server answers 404 until it does.
setsid ip netns exec "$ns" python3 -m http.server --bind "$address" --directory "$dir" "$port" \
    </dev/null >"$log" 2>&1 &
echo $! >"$pidfile"
printf '%s\n' "$want" >"$argsfile"
i=0
until ip netns exec "$ns" ss -Htln "sport = :$port" | grep -q .; do
    if ! running || [ $i -ge 100 ]; then
        echo "the bundle mirror did not start listening on $address:$port in $ns; its log ($log):" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 0.1; i=$((i + 1))
done
say "bundle mirror http://$address:$port/ serving $dir (pid $(cat "$pidfile"), log $log)"
