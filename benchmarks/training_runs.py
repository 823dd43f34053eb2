"""Run several short tools/train.py jobs side by side and read their final
validation metrics.

The demo-sized models are too small to keep two threads busy, so on a
2-core machine two single-threaded runs at a time finish the same work
sooner than one two-threaded run after another.
"""
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional

from common import ROOT


def schedule_options(iters: int) -> List[str]:
    """Shorten the demo schedule to ``iters`` iterations, validate once at
    the end and keep only the final weights; the warm-up is a fifth of
    the run, at most the demo's 200 iterations."""
    warmup = min(200, iters // 5)
    return [
        f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
        f'param_scheduler.0.end={warmup}', f'param_scheduler.1.begin={warmup}',
        f'param_scheduler.1.end={iters}',
        f'default_hooks.checkpoint.interval={iters}',
        'default_hooks.checkpoint.save_best=None',
        'default_hooks.visualization.draw=False',
        'train_dataloader.num_workers=1', 'val_dataloader.num_workers=1'
    ]


def val_history(work_dir: str, key: str = 'mIoU') -> List[dict]:
    """Every validation's metrics (the rows with ``key``, with their
    ``step``) of the newest run logged in ``work_dir``."""
    scalars = sorted(
        glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))[-1]
    rows = [json.loads(line) for line in open(scalars)]
    return [r for r in rows if key in r]


def final_val(work_dir: str, key: str = 'mIoU') -> Dict[str, float]:
    """The last validation metrics (the rows with ``key``) logged in
    ``work_dir``."""
    return val_history(work_dir, key)[-1]


def run(cmd: List[str], log: str, threads: Optional[int]) -> float:
    """Run ``cmd`` in the repository root with ``threads`` OpenMP threads
    (None: the default), output to ``log``; seconds."""
    env = dict(os.environ)
    if threads:
        env['OMP_NUM_THREADS'] = str(threads)
    start = time.perf_counter()
    with open(log, 'w') as out:
        code = subprocess.call([sys.executable] + cmd, cwd=ROOT, env=env,
                               stdout=out, stderr=subprocess.STDOUT)
    if code:
        raise RuntimeError(f'{" ".join(cmd)} failed; see {log}')
    return round(time.perf_counter() - start, 1)


def test_result(work_dir: str) -> Optional[dict]:
    """The newest test.json that tools/test.py wrote under ``work_dir``,
    or None."""
    found = sorted(glob.glob(osp.join(work_dir, 'test', '*', 'test.json')))
    return json.load(open(found[-1])) if found else None


def run_trainings(jobs: List[dict], parallel: int = 2) -> List[dict]:
    """Train every job (``config``, ``work_dir``, ``options``, optional
    ``val_key``: a key of its validation metrics, 'mIoU' by default) with
    ``parallel`` single-threaded processes at a time; returns each job's
    final validation metrics with its wall time and CPU time in seconds
    (``seconds``, ``cpu_seconds``). A failed run
    raises with the path of its output."""
    env = dict(os.environ, OMP_NUM_THREADS='1')
    pending, running, results = list(enumerate(jobs)), [], {}
    while pending or running:
        while pending and len(running) < parallel:
            index, job = pending.pop(0)
            os.makedirs(job['work_dir'], exist_ok=True)
            out = open(osp.join(job['work_dir'], 'train_output.txt'), 'w')
            proc = subprocess.Popen(
                [sys.executable, 'tools/train.py', job['config'],
                 '--work-dir', job['work_dir'], '--cfg-options'] +
                job['options'], cwd=ROOT, env=env, stdout=out,
                stderr=subprocess.STDOUT)
            running.append((index, job, proc, out, time.perf_counter()))
        time.sleep(1)
        for item in list(running):
            index, job, proc, out, start = item
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == 0:
                continue
            proc.returncode = os.waitstatus_to_exitcode(status)
            running.remove(item)
            out.close()
            if proc.returncode:
                for other in running:
                    other[2].kill()
                raise RuntimeError(f'{job["work_dir"]} failed; see '
                                   f'{out.name}')
            results[index] = dict(
                final_val(job['work_dir'], job.get('val_key', 'mIoU')),
                seconds=round(time.perf_counter() - start, 1),
                # the run's own CPU time (and its data workers'), which
                # other load on the machine does not inflate
                cpu_seconds=round(usage.ru_utime + usage.ru_stime, 1))
            print(job['work_dir'], results[index], flush=True)
    return [results[i] for i in range(len(jobs))]
