#!/usr/bin/python3
"""scikit-learn novelty detectors on KubAnomaly, leave one attack file out, beside Vigie's protocol.

Run with Debian's python and scikit-learn (apt-get install -y python3-sklearn):

    /usr/bin/python3 scripts/reference/kubanomaly_loo.py --data ../shared/datasets/kubanomaly/Data

Rows: this script reads the CSV files itself with the same rules as Vigie
(src/sources/datasets/kubanomaly.ts, src/eval/kubanomaly-eval.ts), so that both score the same rows:
  - every *.csv under --data, directories walked in sorted name order;
  - header `Row,<features>,Normal,Attack`; a row with the wrong number of fields, a non-numeric
    feature, or a label that is not one-hot is skipped (and counted);
  - `SqlandCommand/AttackV1.1.csv` (labelled Normal in every row despite its name) is left out
    (`--attackv11 exclude`, the default of Vigie's leave-one-attack-out protocol), or kept as normal;
  - in each file the rows labelled Normal are split in time order: first 60% training, next 20%
    tuning, last 20% test (floor of 60% and 20%); rows labelled Attack are test rows of that file's
    attack type;
  - features: log1p of the 36 counts, standardised with the training rows' mean and standard
    deviation (StandardScaler; a constant feature keeps scale 1); the models are fitted on the
    distinct standardised training rows.
The row counts printed first match the notes of `vigie eval syscalls --dataset kubanomaly`.

Each attack file is held out alone: scored against the normal test rows, AUC and recall at FPR <= 2%
(highest true-positive rate on the ROC curve with FPR <= 0.02, as Vigie's tprAtFpr).

`--lof-fixture PATH` writes instead a small LOF example (random 3-D points, k = 4) with
scikit-learn's novelty scores, used by test/detect/anomaly/lof.test.ts.
"""
import argparse
import json
import math
import os
import sys

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.neighbors import LocalOutlierFactor
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM


def list_csv(root):
    out = []

    def walk(d):
        for f in sorted(os.listdir(d)):
            full = os.path.join(d, f)
            if os.path.isdir(full):
                walk(full)
            elif f.lower().endswith(".csv"):
                out.append(full)

    walk(root)
    return out


def read_csv(path):
    """Features (rows x d) and labels (1 = Attack), with Vigie's row rules; and the skipped count."""
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    header = [s.strip() for s in lines[0].split(",")]
    if header[0] != "Row" or "Normal" not in header or "Attack" not in header:
        raise ValueError(f"{path}:1: not a KubAnomaly CSV")
    i_n, i_a = header.index("Normal"), header.index("Attack")
    d = i_n - 1
    rows, labels, skipped = [], [], 0
    for line in lines[1:]:
        if line.strip() == "":
            continue
        f = line.split(",")
        if len(f) != len(header):
            skipped += 1
            continue
        try:
            row = [float(f[j]) for j in range(1, d + 1)]
            ok = all(math.isfinite(v) for v in row)
        except ValueError:
            ok = False
        try:
            n, a = float(f[i_n]), float(f[i_a])
        except ValueError:
            n, a = -1, -1
        if not ok or not ((n == 1 and a == 0) or (n == 0 and a == 1)):
            skipped += 1
            continue
        rows.append(row)
        labels.append(int(a))
    return np.array(rows, dtype=float).reshape(-1, d), np.array(labels, dtype=int), skipped


def load(root, attackv11):
    train, tune, test, attacks, skipped = [], [], [], {}, 0
    for path in list_csv(root):
        name = os.path.relpath(path, root)
        is_v11 = path.lower().endswith("attackv1.1.csv")
        if is_v11 and attackv11 == "exclude":
            continue
        x, y, s = read_csv(path)
        skipped += s
        x = np.log1p(x)
        if is_v11 and attackv11 == "attack":
            y = np.ones_like(y)
        if y.sum():
            attacks[name] = x[y == 1]
        normal = x[y == 0]
        n_train = int(len(normal) * 0.6)
        n_tune = int(len(normal) * 0.2)
        train.append(normal[:n_train])
        tune.append(normal[n_train : n_train + n_tune])
        test.append(normal[n_train + n_tune :])
    return np.vstack(train), np.vstack(tune), np.vstack(test), attacks, skipped


def recall_at_fpr(scores, labels, max_fpr):
    fpr, tpr, _ = roc_curve(labels, scores)
    return float(tpr[fpr <= max_fpr + 1e-12].max())


def lof_fixture(path):
    rng = np.random.default_rng(7)
    train = np.vstack([rng.normal(0, 1, (20, 3)), rng.normal(4, 0.3, (10, 3))])
    queries = np.vstack([rng.normal(0, 1.5, (6, 3)), rng.normal(4, 1, (3, 3)), [[10, -10, 0]]])
    lof = LocalOutlierFactor(n_neighbors=4, novelty=True).fit(train)
    out = {
        "source": "scripts/reference/kubanomaly_loo.py --lof-fixture (scikit-learn LocalOutlierFactor, novelty=True)",
        "k": 4,
        "dim": 3,
        "train": train.ravel().tolist(),
        "queries": queries.ravel().tolist(),
        "lof": (-lof.score_samples(queries)).tolist(),
    }
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="../shared/datasets/kubanomaly/Data")
    ap.add_argument("--attackv11", choices=["exclude", "normal", "attack"], default="exclude")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a Markdown table")
    ap.add_argument("--lof-fixture", metavar="PATH")
    a = ap.parse_args()
    if a.lof_fixture:
        lof_fixture(a.lof_fixture)
        return
    train, tune, test, attacks, skipped = load(a.data, a.attackv11)
    scaler = StandardScaler().fit(train)
    fit_rows = np.unique(scaler.transform(train), axis=0)
    print(
        f"rows: training {len(train)} normal ({len(fit_rows)} distinct), tuning {len(tune)}, "
        f"test {len(test)} normal + {sum(len(v) for v in attacks.values())} attack; {skipped} skipped; "
        f"AttackV1.1.csv: {a.attackv11}",
        file=sys.stderr,
    )
    models = {
        "LocalOutlierFactor (k=20, novelty)": LocalOutlierFactor(n_neighbors=20, novelty=True),
        "IsolationForest (200 trees, 256 samples)": IsolationForest(n_estimators=200, max_samples=256, random_state=1),
        "OneClassSVM (rbf, gamma=scale, nu=0.02)": OneClassSVM(kernel="rbf", gamma="scale", nu=0.02),
    }
    results = []
    test_z = scaler.transform(test)
    for name, model in models.items():
        model.fit(fit_rows)
        normal_scores = -model.score_samples(test_z)
        rows = []
        for attack, x in attacks.items():
            s = np.concatenate([normal_scores, -model.score_samples(scaler.transform(x))])
            y = np.concatenate([np.zeros(len(normal_scores)), np.ones(len(x))])
            rows.append({"attack": attack, "auc": float(roc_auc_score(y, s)), "recallAtFpr2": recall_at_fpr(s, y, 0.02)})
        mean = {k: float(np.mean([r[k] for r in rows])) for k in ("auc", "recallAtFpr2")}
        results.append({"name": name, "leaveOneOut": rows, "leaveOneOutMean": mean})
    if a.json:
        print(json.dumps({"dataset": "kubanomaly", "attackv11": a.attackv11, "algorithms": results}, indent=2))
        return
    attacks_names = list(attacks)
    print("| algorithm | " + " | ".join(attacks_names) + " | mean |")
    print("|---|" + "---|" * len(attacks_names) + "---|")
    for r in results:
        cells = [f"{x['auc']:.3f} / {x['recallAtFpr2']:.3f}" for x in r["leaveOneOut"]]
        m = r["leaveOneOutMean"]
        print(f"| {r['name']} | " + " | ".join(cells) + f" | {m['auc']:.3f} / {m['recallAtFpr2']:.3f} |")


if __name__ == "__main__":
    main()
