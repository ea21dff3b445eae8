#!/usr/bin/env python3
"""Reference sequence-covering detector on ADFA-LD, with Vigie's split (docs/evaluation.md, "ADFA-LD").

An independent check of whether a novelty score of unbounded order does better per trace than
Vigie's fixed-order models (STIDE n=7, the n-gram LM n=6). Every piece of a test trace is matched
against everything the normal traces contain, at any length, through a suffix automaton of them:

- covering: the fewest pieces, each found somewhere in the normal traces, that the trace splits
  into, divided by its length (the covering measure of Marteau, IEEE TIFS 2019). Cutting greedily at
  the longest match is the fewest, since a piece of a known piece is known;
- match: the mean over the trace's calls of 1 / (1 + m), m the length of the longest known sequence
  ending at that call (m = 0 for a call never seen).

Split as in Vigie: learn on Training_Data_Master; sort Validation_Data_Master by file name, odd
positions are the normal half of the test set, with every attack trace. --learn-tuning half also
learns the validation traces at positions 0 mod 4 (what --param learnFromTuning=true adds to the
training set); all learns every even position (no tuning trace is then left for a threshold; AUC
needs none). Prints per-trace ROC-AUC and the detection rate at a test FPR <= 5%, with the trivial
detectors beside them, and how many normal test traces are mostly 7-grams the learned traces lack.

Needs Debian's python3-sklearn (apt-get install python3-sklearn); not part of Vigie's setup.

  /usr/bin/python3 scripts/reference/adfa-covering.py --data ../shared/datasets/adfa-ld --learn-tuning none
"""
import argparse

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from adfa_split import DEFAULT_DATA, load

ap = argparse.ArgumentParser()
ap.add_argument('--data', default=DEFAULT_DATA)
ap.add_argument('--learn-tuning', choices=['none', 'half', 'all'], default='none')
args = ap.parse_args()

train, val, test_normal, attacks = load(args.data)
learned = train + {'none': [], 'half': val[0::4], 'all': val[0::2]}[args.learn_tuning]


class SuffixAutomaton:
    """Generalised suffix automaton: a state per class of sequences that occur at the same places
    in the learned traces; a path from the root spells a sequence found in one of them."""

    def __init__(self):
        self.next = [{}]
        self.link = [-1]
        self.len = [0]

    def _clone(self, p, q, c):
        k = len(self.len)
        self.next.append(dict(self.next[q]))
        self.link.append(self.link[q])
        self.len.append(self.len[p] + 1)
        while p != -1 and self.next[p].get(c) == q:
            self.next[p][c] = k
            p = self.link[p]
        self.link[q] = k
        return k

    def add(self, seq):
        last = 0
        for c in seq:
            if c in self.next[last]:
                # Already a state for this sequence (from another trace): reuse or split it.
                q = self.next[last][c]
                last = q if self.len[last] + 1 == self.len[q] else self._clone(last, q, c)
                continue
            cur = len(self.len)
            self.next.append({})
            self.link.append(-1)
            self.len.append(self.len[last] + 1)
            p = last
            while p != -1 and c not in self.next[p]:
                self.next[p][c] = cur
                p = self.link[p]
            if p == -1:
                self.link[cur] = 0
            else:
                q = self.next[p][c]
                self.link[cur] = q if self.len[p] + 1 == self.len[q] else self._clone(p, q, c)
            last = cur


sam = SuffixAutomaton()
for s in learned:
    sam.add(s)


def covering(seq):
    """Fewest known pieces the trace splits into, over its length."""
    pieces, state, open_piece = 0, 0, False
    for c in seq:
        nxt = sam.next[state].get(c)
        if nxt is not None:
            state, open_piece = nxt, True
            continue
        pieces += 1 if open_piece else 0
        nxt = sam.next[0].get(c)
        if nxt is None:  # a call never seen: a piece of its own
            pieces += 1
            state, open_piece = 0, False
        else:
            state, open_piece = nxt, True
    return (pieces + (1 if open_piece else 0)) / len(seq)


def match(seq):
    """Mean of 1 / (1 + longest known sequence ending at each call)."""
    state, m, acc = 0, 0, 0.0
    for c in seq:
        while state != 0 and c not in sam.next[state]:
            state = sam.link[state]
            m = sam.len[state]
        nxt = sam.next[state].get(c)
        if nxt is None:
            state, m = 0, 0
        else:
            state, m = nxt, m + 1
        acc += 1.0 / (1 + m)
    return acc / len(seq)


def dr_at_fpr(y, s, fpr_max):
    fpr, tpr, _ = roc_curve(y, s)
    return float(tpr[fpr <= fpr_max].max())


test = test_normal + attacks
y = np.array([0] * len(test_normal) + [1] * len(attacks))
print(f'learned {len(learned)} traces ({sum(map(len, learned))} calls; --learn-tuning {args.learn_tuning}), '
      f'{len(sam.len)} automaton states; test {len(test_normal)} normal + {len(attacks)} attack traces')
print(f'{"detector":<16} {"AUC":>6} {"DR@FPR<=5%":>11}')
for name, fn in (('covering', covering), ('match', match)):
    s = np.array([fn(q) for q in test])
    print(f'{name:<16} {roc_auc_score(y, s):6.3f} {dr_at_fpr(y, s, 0.05):11.3f}')
for name, v in (('flag-everything', 1.0), ('flag-nothing', 0.0)):
    s = np.full(len(test), v)
    print(f'{name:<16} {roc_auc_score(y, s):6.3f} {dr_at_fpr(y, s, 0.05):11.3f}')

# Why novelty against the learned traces cannot separate more: the share of each test trace's
# 7-grams that no learned trace contains (STIDE n=7's per-trace score).
seen7 = {tuple(t[i:i + 7]) for t in learned for i in range(len(t) - 6)}


def unseen7(seq):
    grams = [tuple(seq[i:i + 7]) for i in range(len(seq) - 6)]
    return sum(g not in seen7 for g in grams) / len(grams) if grams else 0.0


u_normal = np.array([unseen7(q) for q in test_normal])
u_attack = np.array([unseen7(q) for q in attacks])
print(f'unseen 7-grams: normal test traces with more than half unseen {np.mean(u_normal > 0.5):.1%}; '
      f'median share, normal {np.median(u_normal):.2f}, attack {np.median(u_attack):.2f}')
