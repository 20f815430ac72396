#!/bin/bash
# A first `make demo` as on a fresh machine (issue 16): a fresh clone of this repository, then
# `make setup` and `make demo` in it, with empty XDG cache, data and state folders (no models,
# no index, no history, no logs). pip's own cache stays the machine's (PIP_CACHE_DIR): if it
# holds no llama-cpp-python wheel, pip builds one first (about 12 minutes on 2 cores).
# Not run by `make test`; prints the times of both steps.
#
#     bash tests/bench/bench_first_run.sh [WORKDIR]
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
base=${1:-$(mktemp -d)}
rm -rf "$base/hearth" "$base/cache" "$base/data" "$base/state"
mkdir -p "$base"
git clone -q "$repo" "$base/hearth"
cd "$base/hearth" || exit 1
export PIP_CACHE_DIR=${PIP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pip}
export XDG_CACHE_HOME=$base/cache XDG_DATA_HOME=$base/data XDG_STATE_HOME=$base/state
unset HEARTH_CACHE_DIR HEARTH_DATA_DIR HEARTH_LOG_DIR
echo "start $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg), commit $(git rev-parse --short HEAD)"
t0=$(date +%s.%N)
make setup > "$base/setup.log" 2>&1
setup_rc=$?
t1=$(date +%s.%N)
echo "make setup: exit $setup_rc, $(echo "$t1 - $t0" | bc) s (log: $base/setup.log)"
make demo > "$base/demo.log" 2>&1
demo_rc=$?
t2=$(date +%s.%N)
echo "make demo: exit $demo_rc, $(echo "$t2 - $t1" | bc) s (log: $base/demo.log)"
echo "to a working demo: $(echo "$t2 - $t0" | bc) s; end $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
tail -1 "$base/demo.log"
[ "$setup_rc" -eq 0 ] && [ "$demo_rc" -eq 0 ]
