#!/usr/bin/env bash
# Intermittent CPU load on the host, outside every container: one or two busy loops for 30–59 s,
# then 30–59 s of rest, for SECONDS (default 420). Used beside `vigie demo --normal-only` to count
# false alerts while other work on the machine comes and goes (docs/live.md).
set -u
end=$((SECONDS + ${1:-420}))
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; exit 0' INT TERM
while [ "$SECONDS" -lt "$end" ]; do
  pids=()
  for _ in $(seq $((RANDOM % 2 + 1))); do
    (while :; do :; done) &
    pids+=($!)
  done
  sleep $((30 + RANDOM % 30))
  kill "${pids[@]}" 2>/dev/null
  wait 2>/dev/null
  pids=()
  sleep $((30 + RANDOM % 30))
done
