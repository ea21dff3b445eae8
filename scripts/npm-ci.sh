#!/usr/bin/env bash
# npm ci without dependencies' install scripts, then the install scripts of the packages that
# package.json's "allowScripts" names with true, and only those (.npmrc sets ignore-scripts for any
# other npm install; test/infra/install-scripts.test.ts fails when a locked package has an install
# script that the list does not name).
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error "$@"
mapfile -t allowed < <(node -e 'for (const [n, ok] of Object.entries(require("./package.json").allowScripts ?? {})) if (ok === true) console.log(n)')
if [ ${#allowed[@]} -gt 0 ]; then
  printf 'npm-ci: install scripts of %s\n' "${allowed[*]}" >&2
  npm rebuild --ignore-scripts=false --loglevel=error "${allowed[@]}"
fi
