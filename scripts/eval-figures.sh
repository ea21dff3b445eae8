#!/usr/bin/env bash
# Re-runs the evaluations whose figures the docs report and writes their outputs to a folder, so that
# two runs (e.g. before and after a refactoring) can be compared with `diff -r -x logs A B`.
#
#   scripts/eval-figures.sh OUTDIR [NAME ...]     # NAME: run only these (see the list below)
#
# Per command: OUTDIR/NAME.json (or .txt): what it prints on stdout; for `vigie eval` commands also
# OUTDIR/NAME.report/ (the --report folder: report.md and its SVG plots, with the "Run time" line
# removed). Wall time and stderr (progress, training times) go to OUTDIR/logs/, which is not a figure.
# The commands run one after the other (never two evaluations at once).
#
# Data sets: ../shared/datasets relative to the repository (VIGIE_DATASETS overrides it).
#
# Run (docs/evaluation.md unless said otherwise):
#   adfa-trace                 ADFA-LD trace unit, STIDE, n-gram LM, kNN, isolation forest, ensemble
#   adfa-learn-from-tuning     ADFA-LD, learnFromTuning=true, STIDE n=12, LM, kNN k=1, ensemble
#   adfa-attack-single         ADFA-LD attack-instance unit, normals=single
#   adfa-attack-matched        ADFA-LD attack-instance unit, normals=matched
#   adfa-attack-matched-learn  attack unit, matched, learnFromTuning=true, stide.n=12, knn.k=1 (the 0.966 / 0.967)
#   adfa-stide-framework-attack  STIDE set up as the LID-DS framework's (n=9, agg=max, L=100), attack unit, single
#   adfa-stide-framework-trace   the same on single traces
#   kubanomaly-time            KubAnomaly, time-ordered split
#   kubanomaly-random          KubAnomaly, split=random
#   kubanomaly-attackv11-exclude / kubanomaly-attackv11-attack   the AttackV1.1.csv table
#   nezha-metrics              `vigie eval metrics --dataset nezha` (JSON on stdout, JSON + Markdown report)
#   falco-audit, falco-audit-all   `npm run eval:falco-audit [-- --matching all]` (docs/rules.md)
#   kubescape                  `npm run eval:kubescape -- --json` (docs/posture.md)
#   adfa-neural-default        neural LM, default sizes (k=10, embed 16, hidden 96, 2 epochs) + n-gram LM, ~3 min
#
# Skipped:
#   - the other neural-LM rows of docs/evaluation.md, each over 5 minutes here: k=16/16/64 3 epochs
#     with its LM + neural ensemble (9 min wall); k=12/32/128 5 epochs (training 484 s + scoring 102 s)
#     and its LM + neural ensemble; k=8/24/128 8 epochs (484 s + 63 s);
#     learnFromTuning k=12 3 epochs (715 s + 73 s) and k=8/24 (467 s + 41 s) with their ensembles;
#     footnote 3, the four-member ensemble with the neural LM (481 s); footnote 4, the attack-unit
#     neural LM, matched (428 s + 54 s) and single (361 s + 64 s);
#   - `vigie eval syscalls --dataset lidds2021|lidds2019`: the LID-DS data sets are not on this machine
#     (the doc reports no LID-DS figure; the fixtures are covered by test/sources/datasets/lidds.test.ts);
#   - scripts/reference/adfa-lstm.py (27 min) and adfa-covering.py: Python reference checks outside
#     Vigie, not `vigie eval` commands;
#   - `npm run bench -- ml-*`: speed figures, which vary from run to run by nature.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 OUTDIR [NAME ...]" >&2
  exit 2
fi
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
shift
ONLY=" $* "
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=${VIGIE_DATASETS:-$ROOT/../shared/datasets}
ADFA=$DATA/adfa-ld
KUB=$DATA/kubanomaly/Data
NEZHA=$DATA/nezha-trainticket/2023-01-29
mkdir -p "$OUT/logs"
cd "$ROOT"

wanted() { [ "$ONLY" = "  " ] || [[ "$ONLY" == *" $1 "* ]]; }

# run NAME EXT CMD...: stdout to OUTDIR/NAME.EXT, stderr and wall time to OUTDIR/logs/.
run() {
  local name=$1 ext=$2
  shift 2
  wanted "$name" || return 0
  echo "[$(date +%T)] $name" >&2
  local t0=$SECONDS status=0
  "$@" >"$OUT/$name.$ext" 2>"$OUT/logs/$name.stderr" || status=$?
  echo "$((SECONDS - t0)) s, exit $status: $*" >"$OUT/logs/$name.time"
  if [ $status -ne 0 ]; then echo "  $name failed (exit $status), see $OUT/logs/$name.stderr" >&2; fi
  if [ -f "$OUT/$name.report/report.md" ]; then sed -i '/^Run time: .* s\.$/d' "$OUT/$name.report/report.md"; fi
}

vigie() { node --import tsx src/cli/main.ts "$@"; }
# eval_syscalls NAME ARGS...: JSON on stdout, Markdown report beside it.
eval_syscalls() {
  local name=$1
  shift
  run "$name" json vigie eval syscalls "$@" --output json --report "$OUT/$name.report"
}

eval_syscalls adfa-trace --dataset adfa --data "$ADFA" \
  --algo stide,ngram-lm,knn,iforest,ensemble --param ensemble.members=stide,ngram-lm,knn
eval_syscalls adfa-learn-from-tuning --dataset adfa --data "$ADFA" --algo stide,ngram-lm,knn,ensemble \
  --param learnFromTuning=true --param stide.n=12 --param knn.k=1 --param ensemble.members=ngram-lm,stide,knn
eval_syscalls adfa-attack-single --dataset adfa --data "$ADFA" \
  --algo stide,ngram-lm,knn,iforest,ensemble --param ensemble.members=stide,ngram-lm,knn \
  --param unit=attack --param normals=single
eval_syscalls adfa-attack-matched --dataset adfa --data "$ADFA" \
  --algo stide,ngram-lm,knn,iforest,ensemble --param ensemble.members=stide,ngram-lm,knn \
  --param unit=attack --param normals=matched
eval_syscalls adfa-attack-matched-learn --dataset adfa --data "$ADFA" \
  --algo stide,ngram-lm,knn,ensemble --param ensemble.members=ngram-lm,stide,knn \
  --param unit=attack --param normals=matched --param learnFromTuning=true --param stide.n=12 --param knn.k=1
eval_syscalls adfa-stide-framework-attack --dataset adfa --data "$ADFA" --algo stide \
  --param stide.n=9 --param agg=max --param L=100 --param unit=attack --param normals=single
eval_syscalls adfa-stide-framework-trace --dataset adfa --data "$ADFA" --algo stide \
  --param stide.n=9 --param agg=max --param L=100

eval_syscalls kubanomaly-time --dataset kubanomaly --data "$KUB" --algo iforest,knn,ensemble
eval_syscalls kubanomaly-random --dataset kubanomaly --data "$KUB" --algo iforest,knn,ensemble \
  --param split=random
eval_syscalls kubanomaly-attackv11-exclude --dataset kubanomaly --data "$KUB" --algo iforest,knn,ensemble \
  --param attackv11=exclude
eval_syscalls kubanomaly-attackv11-attack --dataset kubanomaly --data "$KUB" --algo iforest,knn,ensemble \
  --param attackv11=attack

run nezha-metrics json vigie eval metrics --dataset nezha --data "$NEZHA" --output json \
  --report "$OUT/nezha-metrics.report"

run falco-audit txt npm run -s eval:falco-audit
run falco-audit-all txt npm run -s eval:falco-audit -- --matching all
run kubescape json npm run -s eval:kubescape -- --json

eval_syscalls adfa-neural-default --dataset adfa --data "$ADFA" --algo ngram-lm,neural-lm

echo "[$(date +%T)] done: $OUT" >&2
