"""Helpers for the tests that run tools/train.py and tools/test.py."""
import glob
import json
import os
import os.path as osp
import socket
import subprocess

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


def run(args, cwd=ROOT, check=True):
    """Run a tool (distributed scripts on a free port); on failure show
    the end of its output."""
    env = dict(os.environ, OMP_NUM_THREADS='1', PORT=free_port())
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
