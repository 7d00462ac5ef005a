#!/usr/bin/env bash
# Benchmark pryv with the shared harness (../shared/bench, or $BENCH_HARNESS), side by side with
# a minimal Flask app serving the same pages, and optionally the peers the harness knows.
#
#   bash bench/run.sh                          # pryv + flask-reference at 1,000 projects
#   SIZES=100,1000,10000 bash bench/run.sh     # the scaling matrix (reads at every size)
#   PEERS="nginx pypiserver devpi:1000" bash bench/run.sh   # add the peers (run-baseline.sh recipes)
#
# Results: bench/results/<target>.json and .md, and bench/results/combined.md (ratios).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
HARNESS="${BENCH_HARNESS:-$REPO/../shared/bench}"
OUT="${OUT:-$HERE/results}"
SIZES="${SIZES:-1000}"
FULL="${FULL_SIZE:-1000}"
PRYV="${PRYV:-$(command -v pryv || echo "$REPO/.venv/bin/pryv")}"
BIN="$(dirname "$PRYV")"
EXTRA=(${BENCH_ARGS:-})

bash "$HARNESS/setup.sh"
# pryv's password policy asks for 8 characters at least (the harness's default is "bench").
run() { python3 "$HARNESS/bench.py" --out "$OUT" --sizes "$SIZES" --full-size "$FULL" --password bench-pass "${EXTRA[@]}" "$@"; }

# pryv as a user starts it: `pryv start` defaults, a bcrypt user, the corpus uploaded through the API.
run --name pryv --ingest upload --read-auth \
  --setup "printf '[core]\nprojects-path = {data_dir}/projects\npackages-path = {data_dir}/packages\n[user]\nusers-path = {work}/users.json\n' > {work}/pryv.ini && echo {password} | $PRYV user add {user} --password-stdin -c {work}/pryv.ini" \
  --start "exec $PRYV start -c {work}/pryv.ini --port {port}" \
  --upload-url 'http://127.0.0.1:{port}/legacy/' \
  --version-cmd "$PRYV version"

# The same, under granian (`pryv start --server granian`, for use behind a buffering proxy).
run --name pryv-granian --ingest upload --read-auth \
  --setup "printf '[core]\nprojects-path = {data_dir}/projects\npackages-path = {data_dir}/packages\n[user]\nusers-path = {work}/users.json\n' > {work}/pryv.ini && echo {password} | $PRYV user add {user} --password-stdin -c {work}/pryv.ini" \
  --start "exec $PRYV start -c {work}/pryv.ini --port {port} --server granian" \
  --upload-url 'http://127.0.0.1:{port}/legacy/' \
  --version-cmd "$PRYV version"

# The same pages from memory in a minimal Flask app, under pryv's gunicorn settings (2 x 8 gthread).
run --name flask-reference --ingest static --read-auth \
  --start "exec $BIN/gunicorn -k gthread -w 2 --threads 8 --chdir $REPO -b 127.0.0.1:{port} \"bench.flask_reference:create_app('{data_dir}', '{user}', '{password}')\""

# A peer is a run-baseline.sh target, optionally with its own sizes: devpi ingests only by upload
# at about 9 files/s, so "devpi:100,1000" keeps it off the 60,000-file corpus (about 2 hours).
for peer in ${PEERS:-}; do
  name="${peer%%:*}"
  sizes="${peer#*:}"
  [ "$sizes" = "$peer" ] && sizes="$SIZES"
  OUT="$OUT" SIZES="$sizes" TARGETS="$name" bash "$HARNESS/run-baseline.sh"
done
python3 "$HARNESS/bench.py" report --ref flask-reference "$OUT"/*.json > "$OUT/combined.md"
echo "combined table: $OUT/combined.md"
