#!/usr/bin/env python3
"""Reference LSTM language model on ADFA-LD, with Vigie's split (docs/evaluation.md, "ADFA-LD").

An independent check of what a recurrent system-call language model (the kind of model of Kim et
al. 2016, whose ensemble reports AUC 0.928) reaches on the documented protocol: learn on
Training_Data_Master; sort Validation_Data_Master by file name, odd positions are the normal half of
the test set, with every attack trace. A trace's score is the mean negative log-likelihood of its
calls, as for Vigie's language models. Prints the per-trace ROC-AUC every --eval-every epochs, and
the trivial detectors' AUC on the same test set.

Needs Debian's python3-torch and python3-sklearn (apt-get install python3-torch python3-sklearn);
not part of Vigie's setup, which does not need them.

  /usr/bin/python3 scripts/reference/adfa-lstm.py --data ../shared/datasets/adfa-ld \
      --hidden 200 --embed 32 --epochs 20
"""
import argparse, time

import numpy as np
import torch
import torch.nn as nn
from sklearn.metrics import roc_auc_score

from adfa_split import DEFAULT_DATA, load

ap = argparse.ArgumentParser()
ap.add_argument('--data', default=DEFAULT_DATA)
ap.add_argument('--hidden', type=int, default=200)
ap.add_argument('--embed', type=int, default=32)
ap.add_argument('--layers', type=int, default=1)
ap.add_argument('--epochs', type=int, default=20)
ap.add_argument('--eval-every', type=int, default=10)
ap.add_argument('--chunk', type=int, default=64, help='truncated back-propagation length')
ap.add_argument('--seed', type=int, default=1)
args = ap.parse_args()
torch.manual_seed(args.seed)

train, _, test_normal, attacks = load(args.data)
train, test_normal, attacks = ([np.array(t, dtype=np.int64) for t in ts] for ts in (train, test_normal, attacks))
V = 512  # x86 32-bit system-call numbers stay below this
BOS = V - 1
print(f'train {len(train)} traces ({sum(map(len, train))} calls), test {len(test_normal)} normal + '
      f'{len(attacks)} attack traces', flush=True)


def chunks(seqs, L):
    X, Y = [], []
    for s in seqs:
        s = np.concatenate([[BOS], s])
        for i in range(0, len(s) - 1, L):
            y = s[i + 1:i + L + 1]
            x = s[i:i + len(y)]
            X.append(np.pad(x, (0, L - len(x))))
            Y.append(np.pad(y, (0, L - len(y)), constant_values=-100))
    return torch.tensor(np.array(X)), torch.tensor(np.array(Y))


class Lm(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, args.embed)
        self.rnn = nn.LSTM(args.embed, args.hidden, args.layers, batch_first=True)
        self.out = nn.Linear(args.hidden, V)

    def forward(self, x):
        y, _ = self.rnn(self.emb(x))
        return self.out(y)


def mean_nll(model, seqs):
    model.eval()
    out = []
    with torch.no_grad():
        for s in seqs:
            x = torch.tensor(np.concatenate([[BOS], s[:-1]]))[None]
            out.append(nn.functional.cross_entropy(model(x)[0], torch.tensor(s)).item())
    model.train()
    return out


labels = np.r_[np.zeros(len(test_normal)), np.ones(len(attacks))]
model = Lm()
opt = torch.optim.Adam(model.parameters(), 1e-3)
loss_fn = nn.CrossEntropyLoss(ignore_index=-100)
X, Y = chunks(train, args.chunk)
t0 = time.time()
print('flag-everything AUC 0.5000, flag-nothing AUC 0.5000 (every trace gets the same score)')
for ep in range(1, args.epochs + 1):
    perm = torch.randperm(len(X))
    total = 0.0
    for b in range(0, len(X), 64):
        i = perm[b:b + 64]
        loss = loss_fn(model(X[i]).reshape(-1, V), Y[i].reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        total += loss.item() * len(i)
    print(f'epoch {ep}: training loss {total / len(X):.4f}, {time.time() - t0:.0f} s', flush=True)
    if ep % args.eval_every == 0 or ep == args.epochs:
        scores = mean_nll(model, test_normal) + mean_nll(model, attacks)
        print(f'epoch {ep}: LSTM {args.layers}x{args.hidden} (embed {args.embed}) per-trace AUC '
              f'{roc_auc_score(labels, scores):.4f}', flush=True)
