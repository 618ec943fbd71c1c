#!/bin/sh
# Authorize the lab's public key for the login user of one node (as `vagrant up` puts its key into a box).
# Runs on the podman host, through `podman exec`: this is the lab wiring its node, not a rollout step.
# Idempotent: prints "changed: ..." only when it wrote the key.
#
#   lab-node-login.sh CONTAINER USER PUBLIC_KEY_FILE
set -eu
[ $# -eq 3 ] || { echo "usage: $0 CONTAINER USER PUBLIC_KEY_FILE" >&2; exit 2; }
container=$1 user=$2 key=$3

home=$(podman exec "$container" getent passwd "$user" | cut -d: -f6)
[ -n "$home" ] || { echo "$container: no user $user in the node image" >&2; exit 1; }
if podman exec "$container" cat "$home/.ssh/authorized_keys" 2>/dev/null | cmp -s - "$key"; then
    exit 0
fi
podman exec -i "$container" sh -ec '
    umask 077
    install -d -m 0700 -o "$1" -g "$1" "$2/.ssh"
    cat >"$2/.ssh/authorized_keys.new"
    chown "$1:$1" "$2/.ssh/authorized_keys.new"
    mv "$2/.ssh/authorized_keys.new" "$2/.ssh/authorized_keys"' sh "$user" "$home" <"$key"
echo "changed: authorized key for $user in $container"
