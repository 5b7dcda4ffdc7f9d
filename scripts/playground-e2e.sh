#!/usr/bin/env bash
# Runs the playground's browser test (internal/playground/e2e_test.go) in
# headless Chromium, installing Debian's chromium first when it is missing.
#
# Environment, passed through to the test:
#   PLAYGROUND_URL         page of a running server, e.g. http://127.0.0.1:8080/;
#                          unset: the test serves the playground itself
#   PLAYGROUND_TOKEN       bearer token the server accepts (required with PLAYGROUND_URL)
#   PLAYGROUND_SCREENSHOT  where to write the final screenshot (default: a temp file)
set -euo pipefail

readonly chromium=/usr/bin/chromium

if [[ ! -x $chromium ]]; then
	if [[ $(id -u) -ne 0 ]]; then
		echo "$chromium is missing; install it with: sudo apt-get install -y chromium" >&2
		exit 1
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec go test -tags e2e -run TestPlaygroundE2E -count=1 -v ./internal/playground/
