"""Helpers for the tests that run tools/train.py and tools/test.py."""
import glob
import json
import os
import os.path as osp
import socket
import subprocess

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def small_options(data_root, iters=6):
    """--cfg-options for a few iterations on a small synthetic dataset."""
    opts = [
        f'train_dataloader.dataset.data_root={data_root}',
        'train_dataloader.dataset.num_samples=24',
        'train_dataloader.batch_size=4',
        f'train_cfg.max_iters={iters}',
        f'train_cfg.val_interval={iters}',
        'default_hooks.checkpoint.interval=3',
        'default_hooks.logger.interval=3',
    ]
    for split in ('val', 'test'):
        opts += [
            f'{split}_dataloader.dataset.data_root={data_root}',
            f'{split}_dataloader.dataset.num_samples=5',
            f'{split}_dataloader.batch_size=4',
        ]
    for split in ('train', 'val', 'test'):
        opts += [f'{split}_dataloader.num_workers=0',
                 f'{split}_dataloader.persistent_workers=False']
    return opts


def free_port() -> str:
    """A free loopback port for torchrun's rendezvous."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return str(sock.getsockname()[1])


def run(args, cwd=ROOT, check=True, env=None):
    """Run a tool (distributed scripts on a free port) in ``env`` (default
    this process's); on failure show the end of its output."""
    env = dict(os.environ if env is None else env, OMP_NUM_THREADS='1',
               PORT=free_port())
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    if check:
        assert proc.returncode == 0, \
            proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def latest_metrics(work_dir):
    """The metrics JSON that tools/test.py wrote last in ``work_dir``."""
    files = sorted(glob.glob(osp.join(work_dir, '*', '*.json')),
                   key=osp.getmtime)
    return json.load(open(files[-1]))


def split_sentences(data_root, split='test', config=None):
    """(image path, sentence, mask path) of a synthetic split; with
    ``config``, its split of ``small_options`` is written first if missing
    (the dataset writes its files on first use)."""
    if config is not None:
        from mmengine.config import Config
        from mmseg.registry import DATASETS
        dataset = Config.fromfile(config)[f'{split}_dataloader'].dataset
        dataset.update(data_root=str(data_root), num_samples=5)
        DATASETS.build(dataset)
    refs = glob.glob(osp.join(data_root, f'{split}_n*', 'refs.jsonl'))
    assert len(refs) == 1, refs
    folder = osp.dirname(refs[0])
    out = []
    with open(refs[0]) as f:
        lines = f.read().splitlines()
    for line in lines:
        ref = json.loads(line)
        for text in ref['sentences']:
            out.append((osp.join(folder, ref['image']), text,
                        osp.join(folder, ref['mask'])))
    return out


def spread_threshold(probs, low=0.4, high=0.6):
    """A mask threshold for a briefly trained model, whose probabilities
    may all lie below its own threshold (every mask empty, every IoU 0).

    Returns the middle of the widest gap between two probabilities of
    ``probs`` (a list of arrays) between their ``low`` and ``high``
    quantiles: the masks then cover about half the image, and no pixel
    lies so near the threshold that float rounding (another batch, 2
    processes) could flip it.
    """
    values = np.unique(np.concatenate([p.ravel() for p in probs]))
    lo, hi = np.searchsorted(values, np.quantile(values, [low, high]))
    window = values[lo:hi + 1]
    i = int(np.argmax(np.diff(window)))
    return float((window[i] + window[i + 1]) / 2)


def assert_nontrivial(masks, miou):
    """What a test compares is worth comparing: a mean IoU strictly
    between 0 and 100, and a mask neither empty nor full."""
    assert 0 < miou < 100, f'mIoU {miou}: the masks are all empty or all ' \
        'wrong'
    assert any(0 < m.sum() < m.size for m in masks), \
        'every mask is empty or full'
