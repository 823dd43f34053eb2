"""Each command-line entry point runs once on the tiny demo model: the
analysis tools, the web page's --screenshot mode, the Slurm scripts (with a
stand-in srun), the generalized configs through training with validation
and tools/test.py, and the vision tower's passes in real test runs."""
import glob
import importlib.util
import json
import os
import os.path as osp
import shutil
import sys

import cv2
import pytest
import torch
from mmengine.config import Config

from mmseg.registry import MODELS
from projects.haris.utils import load_local_checkpoint
from tests.e2e_utils import (ROOT, free_port, latest_metrics, run,
                             small_options, split_sentences)

CONFIG = osp.join(ROOT, 'configs', 'haris_synthetic.py')
GENERALIZED = osp.join(ROOT, 'configs', 'haris_synthetic_generalized.py')
EXAMPLE = osp.join(ROOT, 'demo', 'examples', 'shapes_1.png')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """The demo model, randomly initialised (seed 0), as a checkpoint."""
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(CONFIG).model)
    path = str(tmp_path_factory.mktemp('ckpt') / 'model.pth')
    torch.save(dict(meta=dict(), state_dict=model.state_dict()), path)
    return path


def load_tool(path):
    spec = importlib.util.spec_from_file_location(
        'haris_' + osp.basename(path)[:-3], osp.join(ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_count_params_counts_the_built_model(tmp_path):
    out = str(tmp_path / 'counts.json')
    log = run([sys.executable, 'tools/analysis/count_params.py', CONFIG,
               '--json', out]).stdout
    counts = json.load(open(out))
    model = MODELS.build(Config.fromfile(CONFIG).model)
    for part, module in (('backbone', model.backbone),
                         ('neck', model.neck),
                         ('decode_head', model.decode_head),
                         ('total', model)):
        params = list(module.parameters())
        assert counts[part] == dict(
            total=sum(p.numel() for p in params),
            trainable=sum(p.numel() for p in params if p.requires_grad)
        ), part
    assert counts['backbone adapters']['total'] == 0  # peft_cfg=None
    assert f'{counts["total"]["total"]:,}' in log


def test_visualize_attention_command_line(checkpoint, tmp_path):
    out = str(tmp_path / 'attention.png')
    log = run([sys.executable, 'tools/analysis/visualize_attention.py',
               EXAMPLE, 'the red circle', '--config', CONFIG,
               '--checkpoint', checkpoint, '--out', out, '--level', '1',
               '--device', 'cpu']).stdout
    figure = cv2.imread(out)
    assert figure is not None and figure.std() > 0  # drawn, not blank
    # one row per token of the expression, at least its 3 words
    tokens = int(log.split(f'{out}: ')[1].split(' tokens')[0])
    assert tokens >= 3


@pytest.mark.skipif(shutil.which('chromium') is None,
                    reason='no chromium on PATH (.ci/run installs it)')
def test_web_demo_main_takes_a_screenshot(checkpoint, tmp_path):
    """``demo/web_demo.py --screenshot``: serves the page, runs the first
    example in headless Chromium, saves the page."""
    pytest.importorskip('gradio')
    pytest.importorskip('playwright')
    shot = str(tmp_path / 'page.png')
    log = run([sys.executable, 'demo/web_demo.py', CONFIG, checkpoint,
               '--device', 'cpu', '--port', free_port(), '--screenshot',
               shot]).stdout
    # EXAMPLES[0]: three expressions, one mask layer and label each
    assert f"{shot}: 3 masks ['1: the yellow triangle', '2: the red " \
        "circle', '3: the green square']" in log
    page = cv2.imread(shot)
    assert page.shape[:2] == (760, 1100) and page.std() > 0


def test_slurm_scripts_pass_their_arguments(tmp_path, monkeypatch):
    """srun is replaced by a script that records its arguments; the
    command it would run is then parsed by the tool's own parser."""
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    (bindir / 'srun').write_text(
        '#!/usr/bin/env bash\n'
        'printf "%s\\n" "$PYTHONPATH" "$@" > "$SRUN_RECORD"\n')
    (bindir / 'srun').chmod(0o755)
    env = dict(os.environ, GPUS='2', GPUS_PER_NODE='2',
               PATH=f'{bindir}{os.pathsep}{os.environ["PATH"]}')

    def srun_args(script, *args):
        """What srun received (from the checkout's root), and the path
        the script put first on PYTHONPATH."""
        record = str(tmp_path / f'{script}.args')
        run(['bash', f'tools/{script}.sh', 'gpu', 'job', *args],
            env=dict(env, SRUN_RECORD=record))
        lines = open(record).read().splitlines()
        assert osp.samefile(osp.join(ROOT, lines[0].split(':')[0]), ROOT)
        return lines[1:]

    def parsed(command, tool):
        """The tool's own parser on the command srun would run."""
        assert command[:2] == ['python', '-u'], command
        assert osp.samefile(osp.join(ROOT, command[2]),
                            osp.join(ROOT, 'tools', tool))
        monkeypatch.setattr(sys, 'argv', command[2:])
        return load_tool(osp.join('tools', tool)).parse_args()

    train = srun_args('slurm_train', CONFIG, 'work_x', '--cfg-options',
                      'train_cfg.max_iters=7')
    assert train[:6] == ['-p', 'gpu', '--job-name=job', '--gres=gpu:2',
                         '--ntasks=2', '--ntasks-per-node=2']
    args = parsed(train[train.index('python'):], 'train.py')
    assert (args.config, args.work_dir, args.launcher) == (
        CONFIG, 'work_x', 'slurm')
    assert args.cfg_options == {'train_cfg.max_iters': 7}

    test = srun_args('slurm_test', CONFIG, 'ckpt.pth', '--splits', 'all')
    assert test[:2] == ['-p', 'gpu']
    args = parsed(test[test.index('python'):], 'test.py')
    assert (args.config, args.checkpoint, args.launcher, args.splits) == (
        CONFIG, 'ckpt.pth', 'slurm', ['all'])


def test_generalized_config_trains_validates_and_tests(tmp_path):
    """The no-target head trained with GRefSegMetric validation at 2 and
    4; the best checkpoint by gIoU is the one kept as best; tools/test.py
    scores it with the generalized metrics."""
    data, work = str(tmp_path / 'data'), str(tmp_path / 'work')
    opts = small_options(data, iters=4) + [
        'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2']
    run([sys.executable, 'tools/train.py', GENERALIZED, '--work-dir', work,
         '--cfg-options'] + opts)
    scalars = glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json'))
    vals = [json.loads(line) for line in open(scalars[0])]
    vals = [v for v in vals if 'gIoU' in v]
    assert [v['step'] for v in vals] == [2, 4]
    best = max(vals, key=lambda v: v['gIoU'])  # the first of a tie
    kept = glob.glob(osp.join(work, 'best_gIoU_iter_*.pth'))
    assert [osp.basename(p) for p in kept] == [
        f'best_gIoU_iter_{best["step"]}.pth']
    state = load_local_checkpoint(kept[0])['state_dict']
    assert any('no_target' in k for k in state), 'no no-target head'
    out = str(tmp_path / 'out')
    run([sys.executable, 'tools/test.py', GENERALIZED, kept[0],
         '--work-dir', work, '--out', out, '--cfg-options'] + opts)
    metrics = latest_metrics(work)
    for key in ('gIoU', 'cIoU', 'T-acc'):
        assert 0 <= metrics[key] <= 100, key
    rows = open(osp.join(out, 'results.jsonl')).read().splitlines()
    assert len(rows) == len(split_sentences(data))


def counter_config(tmp_path, out):
    path = tmp_path / 'counted.py'
    hooks = [dict(h) for h in Config.fromfile(CONFIG).custom_hooks]
    hooks.append(dict(type='VisionPassCounterHook', out=out))
    path.write_text(
        f'_base_ = [{CONFIG!r}]\n'
        "custom_imports = dict(imports=['projects.haris', "
        "'tests.e2e_hooks'], allow_failed_imports=False)\n"
        f'custom_hooks = {hooks!r}\n')
    return str(path)


@pytest.mark.parametrize('processes', [1, 2])
def test_test_run_encodes_each_image_about_once(checkpoint, tmp_path,
                                                processes):
    """In tools/test.py (1 and 2 processes, batches of 4 sentences) the
    vision tower encodes each distinct image of a batch once: about one
    pass per image, not one per sentence."""
    out = str(tmp_path / 'count')
    config = counter_config(tmp_path, out)
    data = str(tmp_path.parent / 'entry_data')  # shared by both runs
    opts = small_options(data)
    if processes == 1:
        entry = [sys.executable, 'tools/test.py', config, checkpoint]
    else:
        entry = ['bash', 'tools/dist_test.sh', config, checkpoint, '2']
    run(entry + ['--work-dir', str(tmp_path / 'work'), '--cfg-options'] +
        opts, env=dict(os.environ, PATH=osp.dirname(sys.executable) +
                       os.pathsep + os.environ['PATH']))
    counts = [json.load(open(f'{out}.rank{r}')) for r in range(processes)]
    seen = sorted((osp.basename(path), text)
                  for c in counts for path, text in c['sentences'])
    pairs = [(osp.basename(img), text)
             for img, text, _ in split_sentences(data)]
    # every sentence once; 2 processes pad 15 sentences with the first
    # one (the copy mmengine's collect_results drops)
    padding = pairs[:1] if processes == 2 else []
    assert seen == sorted(pairs + padding)
    images = len({img for img, _ in pairs})
    assert images < len(pairs)  # several sentences per image
    for c in counts:
        assert c['encoded'] == sum(c['distinct_per_batch'])
    encoded = sum(c['encoded'] for c in counts)
    batches = sum(len(c['distinct_per_batch']) for c in counts)
    # an image is encoded again only where a batch or process boundary
    # splits its sentences (or for the padding)
    assert images <= encoded <= images + batches - 1 + len(padding)
