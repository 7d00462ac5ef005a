#!/bin/sh
# Seed the configuration on the volume on the first start, then run the command (pryv start).
set -eu
config="${PRYV_CONFIG_PATH:-/data/pryv.ini}"
if [ ! -e "$config" ]; then
    cp "${PRYV_DEFAULT_CONFIG:-/etc/pryv/pryv.ini}" "$config"
fi
exec "$@"
