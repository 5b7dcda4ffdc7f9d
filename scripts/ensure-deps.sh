#!/usr/bin/env bash
# Installs what `make run` and `make test` need and the machine lacks: Debian's PostgreSQL server
# (for the private local cluster), redis-server (for tests), prometheus (for promtool, which
# tests the alert rules), and gcc with libjpeg-turbo's and libyuv's headers (cgo, internal/imaging).
# Needs root to install; without root it only reports what is missing.
set -euo pipefail

missing=()
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null || missing+=(postgresql postgresql-contrib)
command -v redis-server >/dev/null || missing+=(redis-server)
# promtool checks and unit-tests the alert rules in deploy/prometheus (make test).
command -v promtool >/dev/null || missing+=(prometheus)
# internal/imaging decodes and encodes JPEG with libjpeg-turbo, through cgo.
command -v gcc >/dev/null || missing+=(gcc libc6-dev)
compgen -G '/usr/include/jpeglib.h' >/dev/null || missing+=(libjpeg62-turbo-dev)
# and enlarges blur's reduced image with libyuv's bilinear scaler.
compgen -G '/usr/include/libyuv/scale_argb.h' >/dev/null || missing+=(libyuv-dev)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing packages: ${missing[*]} (install them, or set DATABASE_URL / REDIS_URL)" >&2
  exit 0
fi
echo "installing ${missing[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's packages start a system-wide cluster / server; ours are private, so stop theirs.
if command -v service >/dev/null; then
  service postgresql stop >/dev/null 2>&1 || true
  service redis-server stop >/dev/null 2>&1 || true
  service prometheus stop >/dev/null 2>&1 || true
fi
