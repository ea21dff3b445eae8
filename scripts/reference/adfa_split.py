"""ADFA-LD with Vigie's split (docs/evaluation.md, "ADFA-LD"), for the reference scripts beside it.

Learn on Training_Data_Master; sort Validation_Data_Master by file name: even positions tune, odd
positions are the normal half of the test set, with every attack trace.
"""
import os
import sys

# The data sets' folder as Vigie finds it (src/util/datasets.ts): $VIGIE_DATA, else
# ../shared/datasets beside the repository.
DATASETS = os.environ.get('VIGIE_DATA') or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'shared', 'datasets')
DEFAULT_DATA = os.path.join(DATASETS, 'adfa-ld')


def _txts(d):
    return [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith('.txt')]


def _read(p):
    with open(p) as f:
        return [int(x) for x in f.read().split()]


def load(data):
    """(training, validation in file-name order, normal test half, attacks): lists of call lists.

    `data` is the ADFA-LD folder or the folder holding ADFA-LD/; anything else stops with its name.
    """
    root = data
    if not os.path.isdir(os.path.join(root, 'Training_Data_Master')):
        root = os.path.join(root, 'ADFA-LD')
    if not os.path.isdir(os.path.join(root, 'Training_Data_Master')):
        sys.exit(f'{data}: not an ADFA-LD folder (no Training_Data_Master inside it or in ADFA-LD/)')
    train = [_read(p) for p in _txts(os.path.join(root, 'Training_Data_Master'))]
    val = [_read(p) for p in _txts(os.path.join(root, 'Validation_Data_Master'))]
    attack_root = os.path.join(root, 'Attack_Data_Master')
    attacks = [_read(p) for d in sorted(os.listdir(attack_root)) for p in _txts(os.path.join(attack_root, d))]
    return train, val, val[1::2], attacks


# The LID-DS framework's ADFA-LD example (val_train_add 2000, val_count 20): validation traces in
# file-name order, the first 2,000 learned with the training traces, the next 20 tune, the rest tested.
LIDDS_VAL_TRAIN_ADD = 2000
LIDDS_VAL_COUNT = 20


def load_lidds(data, val_train_add=LIDDS_VAL_TRAIN_ADD, val_count=LIDDS_VAL_COUNT):
    """(learned, tuning, normal test, attacks) of Vigie's --param split=lidds: lists of call lists."""
    train, val, _, attacks = load(data)
    end = val_train_add + val_count
    return train + val[:val_train_add], val[val_train_add:end], val[end:], attacks
