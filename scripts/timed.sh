#!/usr/bin/env bash
# Each CI scenario's wall time, for the summary at the end of `make test`.
#
#   timed.sh FILE NAME CMD [ARG...]   run CMD; append "NAME <seconds> <exit status>" to FILE; exit as CMD did
#   timed.sh --summary FILE [NAME...] one line per NAME, in that order (no NAME: every name FILE holds, in
#                                     the order they were added): its time and result, or "not run" (a NAME
#                                     that FILE does not hold, or holds as "NAME - -": a scenario before it
#                                     failed), then the sum, the wall time since KF_TEST_STARTED (when set)
#                                     and the machine's load average at the end
# Seconds are whole seconds of wall time from CMD's start to its end, as `date +%s` sees them.
set -uo pipefail

duration() { printf '%dm %02ds' $(($1 / 60)) $(($1 % 60)); }

if [ "${1:-}" = --summary ]; then
    file=$2
    shift 2
    # scenario names are single words (make targets)
    # shellcheck disable=SC2046
    [ $# -gt 0 ] || set -- $(awk '!seen[$1]++ { print $1 }' "$file" 2>/dev/null)
    total=0
    echo "== time per scenario =="
    for name in "$@"; do
        read -r _ seconds rc < <(awk -v n="$name" '$1 == n' "$file" 2>/dev/null | tail -n 1) || true
        if [ -z "${seconds:-}" ] || [ "$seconds" = - ]; then
            printf '%-26s %9s  %s\n' "$name" '-' 'not run'
        else
            total=$((total + seconds))
            result=ok
            [ "$rc" = 0 ] || result="FAILED (exit $rc)"
            printf '%-26s %9s  %s\n' "$name" "$(duration "$seconds")" "$result"
        fi
        seconds=''
    done
    printf '%-26s %9s\n' 'sum of the above' "$(duration "$total")"
    # what the scenarios' own times leave out (make's and the scripts' own steps): the wall time is what counts
    if [ -n "${KF_TEST_STARTED:-}" ]; then
        printf '%-26s %9s\n' 'wall time of make test' "$(duration $(($(date +%s) - KF_TEST_STARTED)))"
    fi
    echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
    exit 0
fi

file=$1 name=$2
shift 2
start=$(date +%s)
"$@"
rc=$?
echo "$name $(($(date +%s) - start)) $rc" >> "$file"
exit "$rc"
