#!/usr/bin/env bash
# Reads of project pages once every page is rendered: the "warm" figure of the scaling target.
#
#   bash bench/warm_reads.sh /tmp/bench-run/pryv/p10000    # a pryv work dir left by bench/run.sh
#
# The harness measures each cell after a 2 s warm-up, which at 10,000 projects leaves most pages
# not yet rendered by the worker that gets the request. This starts pryv on the data bench/run.sh
# uploaded, requests every project page three times (new connections, so both workers see it),
# then runs wrk at 1 and 32 connections on random project pages, as the harness does.
set -euo pipefail
WORK="${1:?usage: warm_reads.sh WORK_DIR}"
PRYV="${PRYV:-$(command -v pryv || echo .venv/bin/pryv)}"
PORT="${PORT:-18801}"
USER_PASS="${USER_PASS:-bench:bench}"
AUTH="Basic $(printf %s "$USER_PASS" | base64)"
PATHS="$(ls "$WORK"/paths-projects-p*.txt)"
HERE="$(cd "$(dirname "$0")" && pwd)"
LUA="${BENCH_HARNESS:-$HERE/../../shared/bench}/wrk_random.lua"

"$PRYV" start -c "$WORK/pryv.ini" --port "$PORT" > "$WORK/warm_reads.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER; wait $SERVER 2>/dev/null' EXIT
until curl -fs -o /dev/null -u "$USER_PASS" "http://127.0.0.1:$PORT/simple/"; do
  kill -0 $SERVER 2>/dev/null || { cat "$WORK/warm_reads.log" >&2; exit 1; }
  sleep 0.2
done
for _ in 1 2 3; do
  xargs -P 8 -I{} curl -s -o /dev/null -u "$USER_PASS" -H 'Accept: text/html' "http://127.0.0.1:$PORT{}" < "$PATHS"
done
for connections in 1 32; do
  threads=$(( connections < 2 ? 1 : 2 ))
  printf 'project/html/c%s: ' "$connections"
  wrk -t"$threads" -c"$connections" -d5s -s "$LUA" "http://127.0.0.1:$PORT" -- "$PATHS" 1 text/html "$AUTH" \
    | grep 'Requests/sec'
done
