#!/usr/bin/env bash
# The project's test command (README quick start, .ci/run): installs what is missing, then
# type-checks, lints and runs every test, integration tests against real dockerd and bpftrace included.
set -euo pipefail
cd "$(dirname "$0")/.."
VIGIE_SETUP_PYTHON=1 scripts/setup.sh
npm run -s typecheck
npm run -s lint
npm run -s format:check >/dev/null
npx vitest run "$@"
