"""HLA with and without the feedback round (and without VWA), several seeds
each, on a synthetic split; optionally the other readings of the feedback
round, with the same protocol.

Usage: python benchmarks/feedback_ablation.py [--iters 1500]
           [--seeds 0 1 2 3 4] [--split distractor_attributes]
           [--val-interval 250] [--readings] [--focus-num 200]
           [--name feedback_ablation] [--reuse]
Each run trains HARIS as the paper does, on a pretrained CLIP kept frozen
with LoRA adapters: the small CLIP that benchmarks/peft_evidence.py
pretrains (made here first if missing). tools/train.py runs two
single-threaded jobs at a time and validates every ``--val-interval``
iterations (the learning curves). Then tools/analysis/attention_focus.py
measures each trained model on 200 validation sentences.

Written to benchmarks/results/NAME.json (and NAME.png, val mIoU against
iterations): per run the final val mIoU / oIoU, its curve and its attention
focus; per variant the mean and sd; for every variant the paired (same
seed) difference to HLA with its 95% confidence interval (Student t).
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from common import RESULTS, ROOT, write_result
from peft_evidence import CONFIG, WORK, pretrain
from training_runs import run_trainings, schedule_options, val_history

HLA = 'HLA (feedback + VWA)'
VARIANTS = {
    HLA: [],
    'no feedback': ['model.neck.feedback=False'],
    'no feedback, no VWA': ['model.neck.feedback=False',
                            'model.neck.vwa=False'],
}
# the other readings of the feedback round the paper's text allows
READINGS = {
    'feedback from round-1 output':
    ['model.neck.feedback_source=round1_output'],
    'feedback on queries, keys, values':
    ['model.neck.feedback_to=query_key_value'],
    'gated feedback': ['model.neck.feedback_gate=True'],
}


def ablation_jobs(iters, seeds, clip_dir, folder='ablation',
                  split='relational_only', variants=None, val_interval=None):
    """One tools/train.py job per (variant, seed; ``variants`` defaults to
    VARIANTS) on the synthetic split of mode ``split`` (a
    SyntheticReferringDataset switch, the relational split by default), on
    the pretrained CLIP in ``clip_dir``; validation every ``val_interval``
    iterations (default: at the end only)."""
    data = osp.join(ROOT, 'data', 'synthetic')
    jobs = []
    for name, options in (variants or VARIANTS).items():
        for seed in seeds:
            opts = options + schedule_options(iters) + [
                f'randomness.seed={seed}',
                f'model.backbone.pretrained={clip_dir}']
            if val_interval:
                opts.append(f'train_cfg.val_interval={val_interval}')
            for loader in ('train', 'val'):
                opts += [f'{loader}_dataloader.dataset.{split}=True',
                         f'{loader}_dataloader.dataset.data_root={data}']
            jobs.append(dict(
                name=name, seed=seed, config=CONFIG, options=opts,
                work_dir=osp.join(ROOT, 'work_dirs', folder,
                                  f'{name.replace(" ", "_")}_seed{seed}')))
    return jobs


def curve(work_dir):
    """[(iteration, val mIoU, val oIoU)] of every validation of the
    newest run in ``work_dir``."""
    return [(r['step'], r['mIoU'], r['oIoU']) for r in val_history(work_dir)]


def focus_result(job, iters, num):
    """tools/analysis/attention_focus.py on the job's final weights and its
    own config (which carries the split), on ``num`` val sentences; its
    JSON, kept in the work dir and reused."""
    out = osp.join(job['work_dir'], 'attention_focus.json')
    if not osp.isfile(out):
        subprocess.run([
            sys.executable, 'tools/analysis/attention_focus.py',
            osp.join(job['work_dir'], osp.basename(CONFIG)),
            osp.join(job['work_dir'], f'iter_{iters}.pth'), '--split', 'val',
            '--num', str(num), '--out', out + '.tmp'
        ], cwd=ROOT, check=True, env=dict(os.environ, OMP_NUM_THREADS='1'),
            stdout=subprocess.DEVNULL)
        os.replace(out + '.tmp', out)
    return json.load(open(out))


def measure_focus(job, iters, num):
    """The focus summary of ``focus_result``, averaged over HLA levels:
    {words: {word type: {n, round1, round2, vwa, chance}}}."""
    summary = focus_result(job, iters, num)['summary']
    averaged = {}
    for words in ('all', 'match_a_distractor'):
        levels = list(summary[words].values())
        for kind in levels[0]:
            rows = [level[kind] for level in levels if kind in level]
            averaged.setdefault(words, {})[kind] = dict(
                n=rows[0]['n'],
                **{k: round(statistics.mean(r[k] for r in rows), 4)
                   for k in ('round1', 'round2', 'vwa', 'chance')
                   if k in rows[0]})
    return averaged


def interval(values):
    """Mean, sd and the 95% Student-t confidence interval of the mean."""
    from scipy import stats
    mean = statistics.mean(values)
    if len(values) < 2:
        return dict(mean=round(mean, 2), sd=0.0, ci95=None, n=len(values))
    sd = statistics.stdev(values)
    half = stats.t.ppf(0.975, len(values) - 1) * sd / len(values)**0.5
    return dict(mean=round(mean, 2), sd=round(sd, 2),
                ci95=[round(mean - half, 2), round(mean + half, 2)],
                n=len(values))


def collect(jobs, finals, focus=None):
    """{variant: {'runs': [...]}} from the jobs, their final validation
    metrics (with times), and their attention focus (or None)."""
    variants = {}
    for i, (job, val) in enumerate(zip(jobs, finals)):
        run = dict(seed=job['seed'], mIoU=val['mIoU'], oIoU=val['oIoU'],
                   seconds=val.get('seconds'),
                   cpu_seconds=val.get('cpu_seconds'),
                   curve=curve(job['work_dir']))
        if focus and focus[i]:
            run['focus'] = focus[i]
        variants.setdefault(job['name'], dict(runs=[]))['runs'].append(run)
    return variants


def summarize(variants):
    """Adds to each variant: mIoU and oIoU (mean, sd, 95% CI), the mean
    CPU time of a run, the paired difference to HLA, the gain of the last
    validation over the one before, and the attention focus of words
    that also describe a distractor."""
    base = {r['seed']: r['mIoU'] for r in variants[HLA]['runs']}
    for name, v in variants.items():
        runs = v['runs']
        v['mIoU'] = interval([r['mIoU'] for r in runs])
        v['oIoU'] = interval([r['oIoU'] for r in runs])
        cpu = [r['cpu_seconds'] for r in runs if r.get('cpu_seconds')]
        v['cpu_seconds_mean'] = round(statistics.mean(cpu), 1) if cpu else None
        if name != HLA:
            v['minus_HLA'] = interval(
                [r['mIoU'] - base[r['seed']] for r in runs
                 if r['seed'] in base])
        if all(len(r.get('curve', [])) > 1 for r in runs):
            v['last_step_gain'] = interval(
                [r['curve'][-1][1] - r['curve'][-2][1] for r in runs])
        if runs[0].get('focus'):
            v['focus'] = {}
            for kind, first in runs[0]['focus']['match_a_distractor'].items():
                per_run = [r['focus']['match_a_distractor'][kind]
                           for r in runs]
                v['focus'][kind] = {
                    rnd: round(statistics.mean(f[rnd] for f in per_run), 4)
                    for rnd in ('round1', 'round2', 'vwa', 'chance')
                    if rnd in first}
                if 'round2' in first:
                    v['focus'][kind]['round2_minus_round1'] = interval(
                        [100 * (f['round2'] - f['round1']) for f in per_run])
    return variants


def write_ablation(name, variants, **meta):
    """Summarize ``variants`` (from ``collect``), plot their curves and
    write benchmarks/results/NAME.json with ``meta``."""
    variants = summarize(variants)
    if all(len(r.get('curve', [])) > 1 for v in variants.values()
           for r in v['runs']):
        plot(variants, osp.join(RESULTS, f'{name}.png'))
    write_result(name, dict(meta, variants=variants))


def plot(variants, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for name, v in variants.items():
        steps = [s for s, _, _ in v['runs'][0]['curve']]
        per_step = list(zip(*[[m for _, m, _ in r['curve']]
                              for r in v['runs']]))
        mean = [statistics.mean(p) for p in per_step]
        low = [min(p) for p in per_step]
        high = [max(p) for p in per_step]
        line, = ax.plot(steps, mean, marker='o', ms=3, label=name)
        ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.15)
    ax.set_xlabel('iteration')
    ax.set_ylabel('val mIoU (mean; band: min-max over seeds)')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--iters', type=int, default=1500)
    parser.add_argument('--seeds', type=int, nargs='+',
                        default=[0, 1, 2, 3, 4])
    parser.add_argument('--split', default='distractor_attributes',
                        help='SyntheticReferringDataset switch of the split')
    parser.add_argument('--val-interval', type=int, default=250)
    parser.add_argument('--readings', action='store_true',
                        help='also the other readings of the feedback round')
    parser.add_argument('--focus-num', type=int, default=200,
                        help='validation sentences for the attention focus '
                        '(0: skip it)')
    parser.add_argument('--name', default='feedback_ablation',
                        help='result file and work_dirs folder name')
    parser.add_argument('--reuse', action='store_true',
                        help='keep runs whose work dir has final weights')
    args = parser.parse_args()
    clip_dir = osp.join(WORK, 'tiny_clip')
    if not osp.isfile(osp.join(clip_dir, 'config.json')):
        pretrain(clip_dir, 600, 480)
    variants = dict(VARIANTS, **(READINGS if args.readings else {}))
    jobs = ablation_jobs(args.iters, args.seeds, clip_dir, args.name,
                         args.split, variants, args.val_interval)
    done = lambda j: osp.isfile(  # noqa: E731
        osp.join(j['work_dir'], f'iter_{args.iters}.pth'))
    todo = [j for j in jobs if not (args.reuse and done(j))]
    trained = dict(zip([j['work_dir'] for j in todo], run_trainings(todo)))
    finals = []
    for job in jobs:
        times = osp.join(job['work_dir'], 'run_times.json')
        if job['work_dir'] in trained:
            with open(times, 'w') as f:
                json.dump({k: trained[job['work_dir']][k]
                           for k in ('seconds', 'cpu_seconds')}, f)
        last = curve(job['work_dir'])[-1]
        finals.append(dict(mIoU=last[1], oIoU=last[2],
                           **(json.load(open(times))
                              if osp.isfile(times) else {})))
    focus = [None] * len(jobs)
    if args.focus_num:
        with ThreadPoolExecutor(2) as pool:
            focus = list(pool.map(
                lambda j: measure_focus(j, args.iters, args.focus_num),
                jobs))
    write_ablation(
        args.name, collect(jobs, finals, focus), iters=args.iters,
        split=args.split, config=CONFIG, val_interval=args.val_interval,
        focus_measure=('tools/analysis/attention_focus.py on '
                       f'{args.focus_num} val sentences: share of a word\'s '
                       'LWA attention inside the referent mask, averaged '
                       'over HLA levels; words that also describe a '
                       'distractor; round2_minus_round1 in points (x100)'))


if __name__ == '__main__':
    main()
