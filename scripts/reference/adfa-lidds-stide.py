#!/usr/bin/env python3
"""The LID-DS framework's STIDE on ADFA-LD, with its own example split, in plain Python.

An independent check of Vigie's `--param split=lidds` STIDE figure (docs/evaluation.md, "ADFA-LD on
the LID-DS framework's split"). The framework's example: learn every 9-gram of the training traces
and of the first 2,000 validation traces (file-name order); each call of a test trace gets 1 when
the 9-gram ending there was never learned, 0 when it was (nothing before the 9th call); a running
sum over the last 50 of these values (the framework's StreamSum, counting from the trace's start);
the trace's score is the maximum of that sum. Prints the split's counts and the per-trace ROC AUC
(pooled over every attack trace, ties counted half) beside the trivial detectors. Standard library
only.

  /usr/bin/python3 scripts/reference/adfa-lidds-stide.py --data ../shared/datasets/adfa-ld
  # --learn training: the same test set, Training_Data_Master alone learned
"""
import argparse
from collections import deque

from adfa_split import DEFAULT_DATA, LIDDS_VAL_TRAIN_ADD, load_lidds

ap = argparse.ArgumentParser()
ap.add_argument('--data', default=DEFAULT_DATA)
ap.add_argument('--n', type=int, default=9)
ap.add_argument('--window', type=int, default=50)
ap.add_argument('--learn', choices=['split', 'training'], default='split',
                help='training: learn Training_Data_Master only (same test set), to see what the 2,000 added traces bring')
args = ap.parse_args()

learned, tuning, normal, attacks = load_lidds(args.data)
if args.learn == 'training':
    learned = learned[:len(learned) - LIDDS_VAL_TRAIN_ADD]
print(f'learned {len(learned)}, tuning {len(tuning)}, test: {len(normal)} normal + {len(attacks)} attack traces')

n = args.n
known = {tuple(t[i:i + n]) for t in learned for i in range(len(t) - n + 1)}


def score(trace):
    window = deque(maxlen=args.window)
    running = best = 0
    for i in range(n - 1, len(trace)):
        unseen = 0 if tuple(trace[i - n + 1:i + 1]) in known else 1
        if len(window) == args.window:
            running -= window[0]
        window.append(unseen)
        running += unseen
        best = max(best, running)
    return best


def auc(negatives, positives):
    """Mann-Whitney: the chance that an attack trace outscores a normal one, ties counted half."""
    items = sorted([(s, 0) for s in negatives] + [(s, 1) for s in positives])
    rank_sum = 0.0
    i = 0
    while i < len(items):
        j = i
        while j < len(items) and items[j][0] == items[i][0]:
            j += 1
        mid_rank = (i + j + 1) / 2
        rank_sum += mid_rank * sum(1 for k in range(i, j) if items[k][1] == 1)
        i = j
    p, q = len(positives), len(negatives)
    return (rank_sum - p * (p + 1) / 2) / (p * q)


neg = [score(t) for t in normal]
pos = [score(t) for t in attacks]
print(f'STIDE n={n}, max of the sum over {args.window} calls: per-trace ROC AUC {auc(neg, pos):.4f}')
print(f'flag-everything / flag-nothing: {auc([1] * len(neg), [1] * len(pos)):.4f}')

# How much of the test set is made of 7-grams never learned (the figure docs/evaluation.md quotes
# for both splits): the share of normal test traces more than half unseen, and the attacks' median.
known7 = {tuple(t[i:i + 7]) for t in learned for i in range(len(t) - 6)}


def unseen_share(trace):
    grams = [tuple(trace[i:i + 7]) for i in range(len(trace) - 6)]
    return sum(g not in known7 for g in grams) / max(1, len(grams))


mostly_unseen = sum(unseen_share(t) > 0.5 for t in normal) / len(normal)
attack_shares = sorted(unseen_share(t) for t in attacks)
print(f'normal test traces more than half unseen 7-grams: {mostly_unseen:.3f}; '
      f'attack median share: {attack_shares[len(attack_shares) // 2]:.2f}')
