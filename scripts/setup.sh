#!/usr/bin/env bash
# Installs and starts what Vigie needs on a Debian machine, as root, only where missing:
# apt packages, npm dependencies, the build, dockerd, tracefs. Safe to run again.
# (The container image is built by the image test through scripts/image.sh, not here.)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'setup: %s\n' "$*" >&2; }

need_apt=()
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
command -v bpftrace >/dev/null 2>&1 || need_apt+=(bpftrace)
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx wget || need_apt+=(busybox-static)
command -v nats-server >/dev/null 2>&1 || need_apt+=(nats-server)
if [ "${VIGIE_SETUP_BROWSER:-1}" = 1 ]; then command -v chromium >/dev/null 2>&1 || need_apt+=(chromium); fi
if [ "${VIGIE_SETUP_PYTHON:-0}" = 1 ]; then /usr/bin/python3 -c 'import sklearn' >/dev/null 2>&1 || need_apt+=(python3-sklearn); fi
command -v iptables >/dev/null 2>&1 || need_apt+=(iptables)
# The container image's base (scripts/image.sh) is made with debootstrap: no registry is needed.
[ -x /usr/sbin/debootstrap ] || need_apt+=(debootstrap)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then log "missing packages ${need_apt[*]}; run as root to install them"; exit 1; fi
  log "installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing the npm dependencies (install scripts allowed by name only)"
  scripts/npm-ci.sh
fi

# Build when any source is newer than the build output.
if [ ! -f dist/cli/main.js ] || [ -n "$(find src bin package.json tsconfig.json tsconfig.build.json -newer dist/cli/main.js -print -quit 2>/dev/null)" ]; then
  log "building"
  npm run -s build
fi

# dockerd
if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then log "dockerd is not answering and this is not root"; exit 1; fi
  log "starting dockerd"
  mkdir -p /var/log
  nohup dockerd >/var/log/vigie-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { log "dockerd did not start; see /var/log/vigie-dockerd.log"; tail -20 /var/log/vigie-dockerd.log >&2; exit 1; }
fi

# tracefs for bpftrace tracepoints
if [ ! -d /sys/kernel/tracing/events ] || [ -z "$(ls -A /sys/kernel/tracing/events 2>/dev/null)" ]; then
  mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || log "could not mount tracefs; the eBPF sensor will be unavailable"
fi
