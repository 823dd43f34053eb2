"""Rewrite the result tables of the docs from benchmarks/results/*.json.

Each table sits between ``<!-- results:NAME -->`` and
``<!-- /results:NAME -->`` in one of the pages (README.md, docs/*.md);
everything outside the markers is left alone. A section whose JSON is
missing is left as it is.
Usage: python benchmarks/report.py
       (benchmarks/run_all.sh also passes --stages and --total-seconds)
"""
import argparse
import glob
import json
import os
import os.path as osp
import re

from common import RESULTS, ROOT, write_result


def load(name):
    path = osp.join(RESULTS, f'{name}.json')
    return json.load(open(path)) if osp.isfile(path) else None


def table(header, rows):
    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
    return '\n'.join(lines)


def minutes(seconds):
    seconds = int(round(seconds))
    return f'{seconds // 60} min {seconds % 60} s'


def demo(lc):
    test = lc.get('test')
    out = []
    if lc.get('wall_seconds'):
        out.append(f'Wall time of `bash tools/run_demo.sh` (3,000 training '
                   f'iterations with 6 validations, then the test run): '
                   f'{minutes(lc["wall_seconds"])} on 2 CPU cores.')
    if test:
        keys = ['oIoU', 'mIoU'] + [k for k in test if k.startswith('Prec')]
        out += ['', 'Test split (`tools/test.py` on the final checkpoint, '
                '598 sentences of 200 unseen scenes):', '',
                table(keys, [[f'{test[k]:.2f}' for k in keys]])]
    out += ['', 'Validation during that run (`benchmarks/learning_curve.py`,'
            ' `benchmarks/results/learning_curve.json`):', '',
            table(['iterations', 'minutes', 'val mIoU', 'val oIoU'],
                  [[p['iter'], p['minutes'], p['mIoU'], p['oIoU']]
                   for p in lc['points']]), '',
            '![learning curve](benchmarks/results/learning_curve.png)']
    return '\n'.join(out)


def inference(r, params):
    cols = [(1, 1), (8, 1), (1, 8)]
    rows = {(row['images'], row['sentences_per_image']): row
            for row in r['rows']}
    rows = [rows[c] for c in cols if c in rows]

    def name(row):
        return (f'{row["images"]} image{"s" * (row["images"] > 1)} × '
                f'{row["sentences_per_image"]} sentence'
                f'{"s" * (row["sentences_per_image"] > 1)}')

    out = [table(['measure'] + [name(row) for row in rows], [
        ['plain CLIP encoders (floor)'] +
        [f'{row["floor_s"]:.3f} s' for row in rows],
        ['HARIS, adapters merged'] +
        [f'{row["haris_s"]:.3f} s' for row in rows],
        ['HARIS, adapters unmerged'] +
        [f'{row["haris_unmerged_s"]:.3f} s' for row in rows],
        [f'HARIS / floor (target ≤ {r["target_ratio"]:.2f})'] +
        [f'**{row["ratio"]:.3f}**' for row in rows],
        ['HARIS unmerged / floor'] +
        [f'{row["ratio_unmerged"]:.3f}' for row in rows],
    ])]
    if params and params.get('gflops_416'):
        g = params['gflops_416']
        out += ['', f'GFLOPs at 416 px with a 10-word sentence (attention '
                f'included; `python benchmarks/parameters.py`): backbone '
                f'{g["backbone"]}, HLA neck {g["neck"]}, decode head '
                f'{g["decode_head"]} ({g["total"]} in all): by FLOPs, HARIS '
                f'/ encoders = {g["total"] / g["backbone"]:.3f}.']
    return '\n'.join(out)


def scaling(r):
    tokens = sorted({row['tokens'] for row in r['rows']})
    sizes = sorted({row['size'] for row in r['rows']})
    cell = {(row['size'], row['tokens']): row for row in r['rows']}
    rows = []
    for s in sizes:
        rows.append([s, cell[s, tokens[0]]['visual_tokens']] + [
            f'{cell[s, t]["full_s"]:.3f} s / {cell[s, t]["ratio"]:.3f}'
            for t in tokens
        ] + [f'{cell[s, tokens[-1]]["neck_s"] * 1000:.1f} ms'])
    header = ['input', 'visual tokens'] + [
        f'{t} tokens: HARIS / ratio' for t in tokens
    ] + [f'neck, {tokens[-1]} tokens']
    fits = r['neck_linear_fit']
    fit_text = '; '.join(
        f'{t} tokens: {f["neck_gflops_per_1k_visual_tokens"]} GFLOPs and '
        f'{f["neck_ms_per_1k_visual_tokens"]} ms per 1k visual tokens '
        f'(R² {f["r2_gflops"]:.4f} and {f["r2_time"]:.3f})'
        for t, f in fits.items())
    return '\n'.join([
        table(header, rows), '',
        'A line through the origin fits the HLA neck\'s cost against the '
        f'number of visual tokens: {fit_text}.', '',
        '![scaling](benchmarks/results/scaling.png)'
    ])


def size(params, pipeline):
    rows = []
    if params:
        v = params['variants']
        lora = v['frozen + LoRA (default)']
        rows += [
            ['trainable parameters, `haris_refcoco.py` (target < '
             f'{params["target_trainable"] // 10**6}M)',
             f'{lora["total"]["trainable"]:,} of {lora["total"]["total"]:,}',
             '`python benchmarks/parameters.py`'],
            ['... of which LoRA / neck / head',
             f'{lora["backbone adapters"]["trainable"]:,} / '
             f'{lora["neck"]["trainable"]:,} / '
             f'{lora["decode_head"]["trainable"]:,}', ''],
            ['... with full fine-tuning',
             f'{v["full fine-tuning"]["total"]["trainable"]:,}', ''],
            ['... frozen encoders, no adapters',
             f'{v["frozen, no adapters"]["total"]["trainable"]:,}', ''],
        ]
    if pipeline:
        rows.append([
            'training-pipeline throughput, one core, 640×480 JPEG + polygon '
            f'+ 10 words (target ≥ {pipeline["target"]})',
            f'{pipeline["samples_per_second"]} samples/s',
            '`python benchmarks/data_pipeline.py`'
        ])
    return table(['measure', 'value', 'command'], rows)


def amp(r):
    return (f'Under CPU bf16 autocast (`python benchmarks/amp_bf16.py`, '
            f'batch {r["batch"]}) the forward took {r["bf16_over_fp32"]}× '
            f'the fp32 time on this CPU, with '
            f'{r["mask_agreement"] * 100:.1f}% of mask pixels agreeing and '
            f'probabilities within {r["max_prob_diff"]}.')


def train_step(r):
    return table(
        ['batch', 'step', 'inference forward', 'step / forward',
         'peak memory (RSS)'],
        [[row['batch'], f'{row["step_s"]:.2f} s', f'{row["forward_s"]:.2f} s',
          row['step_over_forward'], f'{row["peak_rss_gib"]} GiB']
         for row in r['rows']])


def spread(stat):
    """'mean [low, high]' of an interval() result (the mean alone if it
    has no interval)."""
    text = f'{stat["mean"]:+.2f}'
    if stat.get('ci95'):
        low, high = stat['ci95']
        text += f' [{low:+.2f}, {high:+.2f}]'
    return text


def run_time(variant):
    """Mean CPU time of a run, else its wall time, else 'n/a'."""
    if variant.get('cpu_seconds_mean'):
        return minutes(variant['cpu_seconds_mean'])
    wall = [r['seconds'] for r in variant['runs'] if r.get('seconds')]
    return minutes(sum(wall) / len(wall)) + ' (wall)' if wall else 'n/a'


def ablation(r):
    """The feedback ablation (benchmarks/feedback_ablation.py): mIoU per
    variant with the paired difference to HLA, then the attention focus."""
    variants = r['variants']
    n = next(iter(variants.values()))['mIoU']['n']
    rows = []
    for name, v in variants.items():
        m = v['mIoU']
        rows.append([
            name, f'{m["mean"]:.2f} ± {m["sd"]:.2f}',
            spread(v['minus_HLA']) if 'minus_HLA' in v else '(reference)',
            spread(v['last_step_gain']) if 'last_step_gain' in v else 'n/a',
            run_time(v)])
    verdicts = []
    for name, v in variants.items():
        d = v.get('minus_HLA')
        if d and d.get('ci95'):
            low, high = d['ci95']
            verdicts.append(
                f'{name}: ' + ('the interval holds 0, no difference shown'
                               if low <= 0 <= high else
                               f'{"above" if low > 0 else "below"} HLA'))
    out = [
        f'{r["iters"]} iterations per run on the {r["split"]} split, {n} '
        'seeds; val mIoU mean ± sd; the paired (same seed) difference to '
        'HLA and the gain of the last validation over the one before it, '
        'each as mean [95% CI]; CPU time of one run, or wall time where '
        'marked (two runs at a time, one thread each):', '',
        table(['variant', 'val mIoU', 'minus HLA', 'last-interval gain',
               'time / run'], rows), '',
        'Differences to HLA: ' + '; '.join(verdicts) + '.']
    focus = [[name, kind, f['round1'], f.get('round2', '-'),
              spread(f['round2_minus_round1'])
              if 'round2_minus_round1' in f else '-', f.get('vwa', '-'),
              f['chance']]
             for name, v in variants.items()
             for kind, f in v.get('focus', {}).items()]
    if focus:
        out += ['', 'Attention focus of the words that also describe a '
                'distractor: the share of a word\'s attention inside the '
                'referent, in LWA\'s rounds 1 and 2 and in VWA (the word\'s '
                'own attention over the image), mean over HLA levels and '
                'seeds; round 2 minus round 1 in points, mean [95% CI] over '
                'seeds; chance = uniform attention:', '',
                table(['variant', 'words', 'round 1', 'round 2',
                       'round 2 - round 1', 'VWA', 'chance'], focus)]
    return '\n'.join(out)


def ablation_summary(r):
    """The README's short form of the feedback ablation."""
    rows = []
    for name, v in r['variants'].items():
        gains = [f['round2_minus_round1']['mean']
                 for f in v.get('focus', {}).values()
                 if 'round2_minus_round1' in f]
        rows.append([
            name, f'{v["mIoU"]["mean"]:.2f} ± {v["mIoU"]["sd"]:.2f}',
            spread(v['minus_HLA']) if 'minus_HLA' in v else '(reference)',
            f'{sum(gains) / len(gains):+.2f}' if gains else '-'])
    return table(['variant', 'val mIoU', 'minus HLA [95% CI]',
                  'focus gain of round 2'], rows)


def peft(r):
    arms = r['arms']
    pre = r['pretrain']
    rows = []
    for name, a in arms.items():
        after = f'{a["retrieval"]:.2f}'
        if 'retrieval_adapters_disabled' in a:
            after = (f'{a["retrieval_adapters_disabled"]:.2f} adapters off '
                     f'(max logit change '
                     f'{a["max_logit_change_adapters_disabled"]:g}); '
                     f'{a["retrieval_merged"]:.2f} merged')
        elif a.get('max_logit_change', 1) == 0:
            after += ' (unchanged)'
        rows.append([name, f'{a["trainable"]:,}',
                     f'{a["trainable_backbone"]:,}', f'{a["mIoU"]:.2f}',
                     f'{a["oIoU"]:.2f}', after])
    return '\n'.join([
        f'Pretraining (`tools/pretrain_clip.py`, {pre["steps"]} steps of '
        f'{pre["batch_size"]} pairs, {pre["seconds"]:.0f} s): held-out '
        f'image-to-caption accuracy {r["retrieval_before"]:.2f}% among 96 '
        f'captions (chance {r["chance"]}%, {r["eval_images"]} images). Then '
        f'HARIS, {r["iters"]} iterations each on the synthetic train split:',
        '',
        table(['HARIS encoder', 'trainable', 'of which encoder', 'val mIoU',
               'val oIoU', 'encoder retrieval after (%)'], rows)
    ])


def generalized(r):
    keys = ['gIoU', 'cIoU', 'N-acc', 'T-acc', 'Pr@0.9', 'gIoU_single',
            'gIoU_multi']
    names = {'no_target_head': 'with the no-target output',
             'without_head': 'without it (empty mask = no target)'}
    rows = []
    for name, v in r['variants'].items():
        cpu = v.get('train_cpu_seconds')
        for split, metrics in (('val', v.get('val', {})), ('test', v)):
            rows.append([names.get(name, name), split] +
                        [metrics.get(k, 'n/a') for k in keys] +
                        [minutes(cpu) if cpu else 'n/a'])
    options = ', '.join(f'`{o}`' for o in r.get('options', []))
    return '\n'.join([
        f'{r["iters"]} iterations, seed {r["seed"]}'
        + (f', {options}' if options else '') +
        '; `GRefSegMetric`; training CPU time of one core:', '',
        table(['model', 'split'] + keys + ['train CPU'], rows)])


def run_all(r):
    rows = [[stage, minutes(sec)] for stage, sec in r['stages'].items()]
    rows.append(['**total**', f'**{minutes(r["total_seconds"])}**'])
    return table(['stage', 'wall time'], rows)


def sections():
    params = load('parameters')
    found = {}
    for name, make, inputs in [
        ('demo', demo, ['learning_curve']),
        ('inference', lambda r: inference(r, params), ['inference_overhead']),
        ('scaling', scaling, ['scaling']),
        ('size', lambda r: size(params, load('data_pipeline')),
         ['parameters']),
        ('amp', amp, ['amp_bf16']),
        ('train_step', train_step, ['train_step']),
        ('ablation', ablation, ['feedback_ablation']),
        ('ablation_summary', ablation_summary, ['feedback_ablation']),
        ('ablation_short', ablation, ['feedback_ablation_short']),
        ('ablation_1500', ablation, ['feedback_ablation_1500']),
        ('peft', peft, ['peft_evidence']),
        ('generalized', generalized, ['generalized']),
        ('generalized_ntw5', generalized, ['generalized_ntw5']),
        ('generalized_nt02', generalized, ['generalized_nt02']),
        ('run_all', run_all, ['run_all']),
    ]:
        data = load(inputs[0])
        if data is not None:
            found[name] = make(data)
    return found


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--stages', nargs='*', metavar='NAME=SECONDS',
                        help='record a benchmarks/run_all.sh run')
    parser.add_argument('--total-seconds', type=float)
    args = parser.parse_args()
    if args.stages:
        stages = dict(s.rsplit('=', 1) for s in args.stages)
        write_result('run_all', dict(
            stages={k: float(v) for k, v in stages.items()},
            total_seconds=args.total_seconds))
    pages = {path: open(path, encoding='utf-8').read() for path in
             [osp.join(ROOT, 'README.md')] +
             sorted(glob.glob(osp.join(ROOT, 'docs', '*.md')))}
    for name, body in sections().items():
        pattern = re.compile(rf'(<!-- results:{name} -->\n).*?'
                             rf'(<!-- /results:{name} -->)', re.S)
        holders = [path for path, text in pages.items()
                   if pattern.search(text)]
        if not holders:
            raise SystemExit(f'No page has a <!-- results:{name} --> ... '
                             f'<!-- /results:{name} --> block.')
        for path in holders:
            pages[path] = pattern.sub(
                lambda m: m.group(1) + body + '\n' + m.group(2), pages[path])
    for path, text in pages.items():
        tmp = path + '.tmp'
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(text)
        os.replace(tmp, path)
    print('updated ' + ', '.join(osp.relpath(p, ROOT) for p in pages))

if __name__ == '__main__':
    main()
