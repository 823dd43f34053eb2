"""RefCOCO-sized data: dataset build time and memory, data loading and
evaluation of the full val split in 1 and 2 processes.

The index comes from tools/dataset_converters/make_refcoco_sized.py
(RefCOCO's UNC numbers: 19,994 images, 50,000 refs, 142,210 sentences),
written once under --data-dir and reused.

- build: a fresh process per split builds the RefCOCO config's dataset
  (mmengine's ``serialize_data=True``): seconds and peak RSS.
- loading: a fresh process per split iterates its config dataloader
  (train: 42,404 refs, val: 10,834 sentences; --train-samples stops the
  train epoch early and projects its time) with --workers workers;
  samples/s per worker, and each worker's memory: peak RSS and its
  private (unshared) memory, what it adds to the main process.
- metric: bytes the RefSegMetric keeps per sentence, with and without an
  output file (``tools/test.py --out``).
- eval: tools/test.py on the full val split with the demo-size model
  (random weights, 96x96 input) on 1 process and on 2 (torchrun,
  --launcher pytorch): wall time, the largest process's peak RSS, and
  whether metrics and per-sentence rows are identical.

Usage:
    nice python benchmarks/refcoco_scale_data.py [--data-dir DIR]
        [--workers 2] [--train-samples N] [--skip-eval]
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import re
import subprocess
import sys
import tempfile
import time
import tracemalloc

from common import ROOT, torch, write_result
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

TOOL = osp.join(ROOT, 'tools', 'dataset_converters', 'make_refcoco_sized.py')
PY = sys.executable
# targets of the brief this benchmark answers
TARGETS = dict(dataset_ready_seconds=120, worker_growth_mb=500)


def load_tool():
    spec = importlib.util.spec_from_file_location('make_refcoco_sized',
                                                  TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def memory_mb(pid='self'):
    """Peak and current RSS, PSS and private (unshared) memory in MB."""
    out = {}
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            key, _, value = line.partition(':')
            if key in ('VmHWM', 'VmRSS'):
                out[key] = int(value.split()[0]) / 1024
    private = 0
    with open(f'/proc/{pid}/smaps_rollup') as f:
        for line in f:
            key, _, value = line.partition(':')
            if key == 'Pss':
                out['Pss'] = int(value.split()[0]) / 1024
            if key in ('Private_Clean', 'Private_Dirty'):
                private += int(value.split()[0]) / 1024
    out['Private'] = private
    return dict(
        peak_rss_mb=round(out['VmHWM'], 1),
        rss_mb=round(out['VmRSS'], 1),
        pss_mb=round(out['Pss'], 1),
        private_mb=round(out['Private'], 1))


def child_pids():
    """Pids of this process's children (its dataloader workers)."""
    pids = []
    for task in os.listdir('/proc/self/task'):
        with open(f'/proc/self/task/{task}/children') as f:
            pids += [int(p) for p in f.read().split()]
    return pids


def dataloader_cfg(data_dir, split, workers):
    """The RefCOCO config's dataloader of ``split`` over ``data_dir``."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'haris_refcoco.py'))
    key = 'train_dataloader' if split == 'train' else 'val_dataloader'
    loader = cfg[key].to_dict()
    loader['dataset']['data_root'] = data_dir
    loader['dataset']['split'] = split
    loader.update(num_workers=workers, persistent_workers=workers > 0)
    return loader


def child_build(args):
    """Build one split's dataset; print seconds and memory as JSON."""
    init_default_scope('mmseg')
    import projects.haris  # noqa: F401
    from mmseg.registry import DATASETS
    before = memory_mb()
    cfg = dataloader_cfg(args.data_dir, args.split, 0)['dataset']
    start = time.perf_counter()
    dataset = DATASETS.build(cfg)
    dataset.full_init()
    seconds = time.perf_counter() - start
    print(json.dumps(dict(
        seconds=round(seconds, 2), samples=len(dataset),
        serialized_mb=round(dataset.data_bytes.nbytes / 2**20, 1),
        before=before, after=memory_mb())))


def child_load(args):
    """Iterate one split's dataloader for an epoch, sampling the workers'
    memory; print throughput and memory as JSON."""
    init_default_scope('mmseg')
    import projects.haris  # noqa: F401
    torch.set_num_threads(1)
    cfg = dataloader_cfg(args.data_dir, args.split, args.workers)
    loader = Runner.build_dataloader(cfg, seed=0)
    dataset = loader.dataset
    main_after_build = memory_mb()
    workers = {}

    def sample():
        for pid in child_pids():
            try:
                now = memory_mb(pid)
            except OSError:  # a worker that just ended
                continue
            old = workers.setdefault(pid, now)
            workers[pid] = {k: max(old[k], now[k]) for k in now}

    limit = args.max_samples or len(dataset)
    limit = min(limit, len(dataset))
    count, batches = 0, 0
    start = time.perf_counter()
    for batch in loader:
        count += len(batch['inputs'])
        batches += 1
        if batches == 2:
            first = time.perf_counter()
            first_count = count
        if batches % 25 == 0:
            sample()
        if count >= limit:
            break
    sample()
    elapsed = time.perf_counter() - start
    steady = time.perf_counter() - first
    rate = (count - first_count) / steady
    print(json.dumps(dict(
        samples=count, epoch_samples=len(dataset),
        epoch_seconds_projected=round(len(dataset) / rate, 1),
        batch_size=cfg['batch_size'], workers=args.workers,
        seconds=round(elapsed, 1),
        samples_per_second=round(rate, 1),
        samples_per_second_per_worker=round(rate / max(args.workers, 1),
                                            1),
        main=main_after_build, main_end=memory_mb(),
        worker_memory=list(workers.values()))))


def run_child(kind, args, split):
    cmd = [PY, osp.abspath(__file__), '--child', kind, '--split', split,
           '--data-dir', args.data_dir, '--workers', str(args.workers)]
    if split == 'train' and args.train_samples:
        cmd += ['--max-samples', str(args.train_samples)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, OMP_NUM_THREADS='1'))
    if proc.returncode:
        sys.exit(proc.stdout[-3000:] + proc.stderr[-3000:])
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(kind, split, json.dumps(result), flush=True)
    return result


def metric_bytes_per_sentence(num=10834):
    """Bytes RefSegMetric keeps per sentence (tracemalloc), with no
    output file and with one."""
    init_default_scope('mmseg')
    import projects.haris  # noqa: F401
    from mmseg.registry import METRICS
    gt = torch.zeros(1, 48, 64, dtype=torch.uint8)
    gt[:, 10:30, 10:40] = 1
    pred = torch.zeros(1, 48, 64, dtype=torch.uint8)
    pred[:, 12:32, 8:38] = 1
    probs = pred.float() * 0.8
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, output_file in (('no_output_file', None),
                                  ('output_file', osp.join(tmp, 'r.jsonl'))):
            metric = METRICS.build(
                dict(type='RefSegMetric', thresholds=(None, 0.35),
                     output_file=output_file))
            tracemalloc.start()
            for i in range(num):
                sample = dict(
                    gt_sem_seg=dict(data=gt), pred_sem_seg=dict(data=pred),
                    seg_logits=dict(data=probs), ref_id=i // 3,
                    sent_id=i, sent_index=i % 3, sample_idx=i,
                    text=f'the man in the red shirt on the left {i}',
                    img_path=f'data/coco/train2014/COCO_train2014_'
                    f'{i:012d}.jpg')
                metric.process({}, [sample])
            kept, _ = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            out[name] = dict(
                bytes_per_sentence=round(kept / num),
                keys=sorted(metric.results[0]),
                mb_for_val=round(kept / 2**20, 2))
    return out


def tiny_config(data_dir, folder):
    """A config: the demo-size model (configs/haris_synthetic.py's) on the
    RefCOCO dataset settings and schedule at 96x96 (the synthetic
    schedule's visualisation hook would build the train loop: it reads
    ``runner.iter`` when it draws)."""
    base = osp.join(ROOT, 'configs', '_base_')
    text = f"""_base_ = [
    '{base}/models/haris_tiny-clip.py', '{base}/datasets/refcoco.py',
    '{base}/default_runtime.py', '{base}/schedules/schedule_50e.py'
]
model = dict(backbone=dict(frozen=False, peft_cfg=None))
data_root = '{data_dir}'
image_size = 96
test_pipeline = [
    dict(type='LoadReferringImage'),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='LoadReferringMask'),
    dict(type='PickExpression'),
    dict(type='TokenizeExpression', context_length=22),
    dict(type='PackReferringInputs'),
]
test_dataloader = dict(
    batch_size=16, num_workers=2, persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
"""
    path = osp.join(folder, 'haris_tiny_refcoco-sized-96x96.py')
    with open(path, 'w') as f:
        f.write(text)
    return path


def tiny_checkpoint(config, folder):
    """Random weights of the config's model (seed 0) as a checkpoint."""
    from mmengine.runner import set_random_seed
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    import projects.haris  # noqa: F401
    set_random_seed(0)
    model = MODELS.build(Config.fromfile(config).model)
    path = osp.join(folder, 'tiny_random.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path


def probability_quantiles(config, ckpt, quantiles=(0.5, 0.75)):
    """Quantiles of the random model's probabilities on the first 16 val
    sentences: thresholds at which its masks are neither empty nor full,
    so that the metrics compared across process counts are not all 0."""
    from mmengine.dataset import pseudo_collate
    from mmseg.registry import DATASETS, MODELS
    init_default_scope('mmseg')
    import projects.haris  # noqa: F401
    cfg = Config.fromfile(config)
    model = MODELS.build(cfg.model)
    model.load_state_dict(torch.load(ckpt)['state_dict'])
    model.eval()
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    batch = pseudo_collate([dataset[i] for i in range(16)])
    with torch.no_grad():
        outputs = model.test_step(batch)
    probs = torch.cat([o.seg_logits.data.flatten() for o in outputs])
    return [round(float(probs.quantile(q)), 4) for q in quantiles]


def run_measured(cmd, env):
    """Run ``cmd``; wall seconds and the largest peak RSS (MB) of its
    processes (getrusage of a wrapper's children)."""
    wrapper = ('import resource, subprocess, sys; '
               'code = subprocess.call(sys.argv[1:]); '
               'print("MAXRSS", resource.getrusage('
               'resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)')
    start = time.perf_counter()
    proc = subprocess.run([PY, '-c', wrapper] + cmd, capture_output=True,
                          text=True, cwd=ROOT, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode:
        sys.exit(proc.stdout[-3000:] + proc.stderr[-3000:])
    rss = int(re.search(r'MAXRSS (\d+)', proc.stdout).group(1)) / 1024
    return round(seconds, 1), round(rss, 1)


def evaluate(args, folder):
    """tools/test.py on the val split, 1 and 2 processes."""
    config = tiny_config(args.data_dir, folder)
    ckpt = tiny_checkpoint(config, folder)
    threshold, second = probability_quantiles(config, ckpt)
    options = ['--cfg-options', f'model.decode_head.threshold={threshold}',
               f'test_evaluator.thresholds=[None,{second}]']
    env = dict(os.environ, OMP_NUM_THREADS='1')
    out = {}
    for procs in (1, 2):
        work = osp.join(folder, f'work_{procs}')
        rows = osp.join(folder, f'out_{procs}')
        tail = [config, ckpt, '--work-dir', work, '--out', rows] + options
        if procs == 1:
            cmd = [PY, osp.join(ROOT, 'tools', 'test.py')] + tail
        else:
            cmd = [PY, '-m', 'torch.distributed.run', '--nproc_per_node=2',
                   f'--master_port={args.port}',
                   osp.join(ROOT, 'tools', 'test.py')] + tail + [
                       '--launcher', 'pytorch']
        seconds, rss = run_measured(cmd, env)
        (stamp, ) = [d for d in os.listdir(work)
                     if osp.isdir(osp.join(work, d))]
        metrics = json.load(open(osp.join(work, stamp, 'val.json')))
        with open(osp.join(rows, 'results.jsonl')) as f:
            lines = f.read().splitlines()
        out[procs] = dict(seconds=seconds, peak_rss_mb=rss,
                          metrics=metrics, rows=lines)
    same_metrics = {k: v for k, v in out[1]['metrics'].items()
                    if k not in ('config', 'checkpoint')} == {
                        k: v for k, v in out[2]['metrics'].items()
                        if k not in ('config', 'checkpoint')}
    return dict(
        thresholds=[threshold, second],
        sentences=out[1]['metrics']['num_sentences'],
        one_process=dict(seconds=out[1]['seconds'],
                         peak_rss_mb=out[1]['peak_rss_mb']),
        two_processes=dict(seconds=out[2]['seconds'],
                           peak_rss_mb=out[2]['peak_rss_mb']),
        metrics={k: v for k, v in out[1]['metrics'].items()
                 if k not in ('config', 'checkpoint')},
        identical_metrics=same_metrics,
        identical_rows=out[1]['rows'] == out[2]['rows'],
        rows=len(out[1]['rows']))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--data-dir',
                        default=osp.join(tempfile.gettempdir(),
                                         'refcoco_sized'))
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--train-samples', type=int, default=0,
                        help='stop the train loading epoch after this many '
                        'samples (0: the whole epoch); the epoch time is '
                        'projected from the rate')
    parser.add_argument('--max-samples', type=int, default=0,
                        help=argparse.SUPPRESS)
    parser.add_argument('--port', type=int, default=29561)
    parser.add_argument('--skip-eval', action='store_true')
    parser.add_argument('--child', choices=['build', 'load'])
    parser.add_argument('--split', default='train')
    args = parser.parse_args()
    args.data_dir = osp.abspath(args.data_dir)
    if args.child == 'build':
        return child_build(args)
    if args.child == 'load':
        return child_load(args)

    result = dict(data_dir_reused=osp.isfile(
        osp.join(args.data_dir, 'refcoco', 'refs(unc).p')))
    if not result['data_dir_reused']:
        start = time.perf_counter()
        result['index'] = load_tool().write_index(args.data_dir)
        result['generate_seconds'] = round(time.perf_counter() - start, 1)
        print('generated in', result['generate_seconds'], 's', flush=True)
    result['build'] = {s: run_child('build', args, s)
                       for s in ('train', 'val')}
    result['loading'] = {s: run_child('load', args, s)
                         for s in ('train', 'val')}
    for split, load in result['loading'].items():
        load['worker_private_mb_max'] = max(
            w['private_mb'] for w in load['worker_memory'])
        load['worker_peak_rss_over_main_mb_max'] = round(max(
            w['peak_rss_mb'] for w in load['worker_memory']) -
            load['main']['rss_mb'], 1)
    result['metric'] = metric_bytes_per_sentence()
    print('metric', json.dumps(result['metric']), flush=True)
    if not args.skip_eval:
        with tempfile.TemporaryDirectory() as folder:
            result['eval_val'] = evaluate(args, folder)
    result['targets'] = TARGETS
    result['met'] = dict(
        dataset_ready=max(b['seconds'] for b in result['build'].values()) <=
        TARGETS['dataset_ready_seconds'],
        worker_growth=max(
            ld['worker_private_mb_max']
            for ld in result['loading'].values()) <=
        TARGETS['worker_growth_mb'])
    write_result('refcoco_scale_data', result)


if __name__ == '__main__':
    main()
