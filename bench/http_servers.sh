#!/usr/bin/env bash
# gunicorn, granian and nginx-static in turn on the same pages: reads per second, interleaved.
#
#   bash bench/http_servers.sh [ROUNDS] [SECONDS]
#
# Needs a run of bench/run.sh at 1,000 projects with PEERS=nginx first: it reuses that run's
# pryv data and nginx pages (under $WORK, default /tmp/bench-run). The three servers run side by
# side and are measured in turn, round after round, so a machine whose load drifts affects all
# three alike; each line is "request accept server requests/s".
set -euo pipefail
ROUNDS="${1:-3}"; SECONDS_EACH="${2:-5}"
HERE="$(cd "$(dirname "$0")" && pwd)"
HARNESS="${BENCH_HARNESS:-$HERE/../../shared/bench}"
PRYV="${PRYV:-$HERE/../.venv/bin/pryv}"
WORK="${WORK:-/tmp/bench-run}"
STATIC="$WORK/nginx-static/p1000"
CONFIG="$WORK/pryv/p1000/pryv.ini"
PASSWORD="${PASSWORD:-bench-pass}"
TMP="$(mktemp -d)"
read -r NGINX GUNICORN GRANIAN < <(python3 -c "
import socket
s = [socket.socket() for _ in range(3)]
for x in s: x.bind(('127.0.0.1', 0))
print(*[x.getsockname()[1] for x in s])")

sed "s/listen 127.0.0.1:[0-9]*/listen 127.0.0.1:$NGINX/; s#^pid .*#pid $TMP/nginx.pid;#" \
  "$STATIC/nginx.conf" > "$TMP/nginx.conf"
/usr/sbin/nginx -c "$TMP/nginx.conf" -e "$TMP/nginx.err" &
"$PRYV" start -c "$CONFIG" --port "$GUNICORN" > "$TMP/gunicorn.log" 2>&1 &
"$PRYV" start -c "$CONFIG" --port "$GRANIAN" --server granian > "$TMP/granian.log" 2>&1 &
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$TMP"' EXIT
AUTH="Basic $(printf 'bench:%s' "$PASSWORD" | base64)"
for port in "$GUNICORN" "$GRANIAN"; do
  until curl -fsS -o /dev/null -H "Authorization: $AUTH" "http://127.0.0.1:$port/simple/"; do
    sleep 0.5
  done
done
for request in projects index; do
  for accept in text/html application/vnd.pypi.simple.v1+json; do
    for _ in $(seq "$ROUNDS"); do
      for target in "nginx-static:$NGINX" "gunicorn:$GUNICORN" "granian:$GRANIAN"; do
        rate=$(wrk -t2 -c32 -d"${SECONDS_EACH}s" -s "$HARNESS/wrk_random.lua" \
          "http://127.0.0.1:${target##*:}" -- "$STATIC/paths-$request-p1000.txt" 1 "$accept" \
          "$AUTH" | awk '/Requests\/sec/ {print $2}')
        echo "$request $accept ${target%%:*} $rate"
      done
    done
  done
done
