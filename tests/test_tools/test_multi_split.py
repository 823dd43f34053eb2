"""tools/test.py --splits: several splits with the model loaded once, each
scored exactly as a run on that split alone."""
import glob
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from mmseg.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'haris_synthetic.py')
METRIC_KEYS = ('oIoU', 'mIoU', 'Prec@0.5', 'Prec@0.9', 'oIoU@0.1',
               'mIoU@0.1', 'Prec@0.5@0.1')


def options(data_root):
    """Small val and test sets (5 refs each). The untrained model's
    probabilities lie between 0.002 and 0.26: thresholds of 0.05 (the
    model's own) and 0.1 give masks that are neither empty nor full."""
    opts = ['model.decode_head.threshold=0.05',
            'test_evaluator.thresholds=(None,0.1)',
            'test_dataloader.batch_size=3']
    for split in ('val', 'test'):
        opts += [
            f'{split}_dataloader.dataset.data_root={data_root}',
            f'{split}_dataloader.dataset.num_samples=5',
            f'{split}_dataloader.num_workers=0',
            f'{split}_dataloader.persistent_workers=False',
        ]
    return opts


def run(args):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env['PATH']
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def split_json(work_dir, split):
    files = glob.glob(osp.join(work_dir, '*', f'{split}.json'))
    assert len(files) == 1, files
    return json.load(open(files[0]))


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """The demo model, randomly initialised (seed 0), saved as a
    checkpoint."""
    torch.manual_seed(0)
    cfg = Config.fromfile(CONFIG)
    model = MODELS.build(cfg.model)
    path = str(tmp_path_factory.mktemp('ckpt') / 'model.pth')
    torch.save(dict(meta=dict(), state_dict=model.state_dict()), path)
    return path


@pytest.fixture(scope='module')
def single_runs(checkpoint, tmp_path_factory):
    """Each split in its own run, as before --splits existed."""
    tmp = tmp_path_factory.mktemp('single')
    data = str(tmp_path_factory.getbasetemp() / 'data')
    metrics = {}
    for split in ('val', 'test'):
        work = str(tmp / split)
        run([sys.executable, 'tools/test.py', CONFIG, checkpoint,
             '--work-dir', work, '--out', str(tmp / f'out_{split}'),
             '--cfg-options'] + options(data) +
            [f'test_dataloader.dataset.split={split}'])
        metrics[split] = split_json(work, split)
    return tmp, metrics


def counter_config(path, out):
    """The demo config with a hook that counts the Runner's hook calls
    (written to ``{out}.rank0``) beside its own hooks."""
    hooks = [dict(h) for h in Config.fromfile(CONFIG).custom_hooks]
    hooks.append(dict(type='HookCallCounter', out=out))
    path.write_text(
        f'_base_ = [{CONFIG!r}]\n'
        "custom_imports = dict(imports=['projects.haris', "
        "'tests.test_tools.hook_calls'], allow_failed_imports=False)\n"
        f'custom_hooks = {hooks!r}\n')
    return str(path)


@pytest.fixture(scope='module')
def multi_run(checkpoint, tmp_path_factory):
    """Both splits in one run of the demo config, with a hook that counts
    the Runner's hook calls."""
    data = str(tmp_path_factory.getbasetemp() / 'data')
    tmp = tmp_path_factory.mktemp('multi')
    config = counter_config(tmp / 'counted.py', str(tmp / 'hook_calls'))
    work, out = str(tmp / 'work'), str(tmp / 'out')
    log = run([sys.executable, 'tools/test.py', config, checkpoint,
               '--splits', 'all', '--work-dir', work, '--out', out,
               '--cfg-options'] + options(data))
    return work, out, log, json.load(open(tmp / 'hook_calls.rank0'))


def test_splits_in_one_run_equal_single_runs(single_runs, multi_run):
    single_tmp, single = single_runs
    work, out, log, _ = multi_run
    # the model is built and loaded once, then one test loop per split
    assert log.count('Split val (1 of 2)') == 1
    assert log.count('Split test (2 of 2)') == 1
    assert 'Summary of 2 splits' in log
    for split in ('val', 'test'):
        metrics = split_json(work, split)
        assert metrics['split'] == split
        assert metrics['num_sentences'] == single[split]['num_sentences']
        for key in METRIC_KEYS:
            assert metrics[key] == single[split][key], (split, key)
        rows = open(osp.join(out, split, 'results.jsonl')).read()
        assert rows == open(
            osp.join(single_tmp, f'out_{split}', 'results.jsonl')).read()
    # the masks are not empty, and the two splits are different data:
    # swapping the split took effect
    for key in ('mIoU', 'mIoU@0.1'):
        assert single['val'][key] > 0 and single['test'][key] > 0
        assert single['val'][key] != single['test'][key]
    summary = json.load(open(glob.glob(osp.join(work, '*',
                                                'summary.json'))[0]))
    assert list(summary) == ['val', 'test']
    assert summary['test']['mIoU@0.1'] == single['test']['mIoU@0.1']


def test_run_hooks_fire_once_for_all_splits(multi_run):
    """One runner.test(): before_run/after_run once (so run-level hooks,
    e.g. a checkpoint loaded in before_run, act once); a test loop per
    split, each over that split's batches of 3 sentences."""
    work, _, _, calls = multi_run
    assert calls['before_run'] == calls['after_run'] == 1
    for stage in ('before_test', 'after_test', 'before_test_epoch',
                  'after_test_epoch'):
        assert calls[stage] == 2, (stage, calls)
    batches = [-(-split_json(work, split)['num_sentences'] // 3)
               for split in ('val', 'test')]
    assert calls['after_test_iter'] == sum(batches)


def test_splits_with_two_processes(checkpoint, single_runs,
                                   tmp_path_factory):
    single_tmp, single = single_runs
    data = str(tmp_path_factory.getbasetemp() / 'data')
    tmp = tmp_path_factory.mktemp('dist')
    work, out = str(tmp / 'work'), str(tmp / 'out')
    # 5 sentences per split: 2 processes do not divide them evenly
    run(['bash', 'tools/dist_test.sh', CONFIG, checkpoint, '2', '--splits',
         'test', 'val', '--work-dir', work, '--out', out, '--cfg-options'] +
        options(data))
    for split in ('val', 'test'):
        metrics = split_json(work, split)
        for key in METRIC_KEYS:
            assert metrics[key] == single[split][key], (split, key)
        # per-sentence rows in the dataset's order, as in one process
        rows = open(osp.join(out, split, 'results.jsonl')).read()
        assert rows == open(
            osp.join(single_tmp, f'out_{split}', 'results.jsonl')).read()


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'haris_test_tool', osp.join(ROOT, 'tools', 'test.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_split_names_are_checked_before_the_model_is_built():
    tool = load_tool()
    cfg = Config.fromfile(CONFIG)
    assert tool.resolve_splits(cfg, None, CONFIG) is None
    assert tool.resolve_splits(cfg, ['all'], CONFIG) == ['val', 'test']
    assert tool.resolve_splits(cfg, ['test'], CONFIG) == ['test']
    with pytest.raises(SystemExit, match='more than once'):
        tool.resolve_splits(cfg, ['val', 'val'], CONFIG)
    with pytest.raises(SystemExit, match='alone'):
        tool.resolve_splits(cfg, ['all', 'val'], CONFIG)
    cfg.test_splits = None
    with pytest.raises(SystemExit, match='declares no test_splits'):
        tool.resolve_splits(cfg, ['all'], CONFIG)
    phrasecut = Config.fromfile(osp.join(ROOT, 'configs',
                                         'haris_phrasecut.py'))
    with pytest.raises(SystemExit, match='PhraseCutDataset .* has none'):
        tool.resolve_splits(phrasecut, ['val'], 'haris_phrasecut.py')


def test_benchmark_configs_declare_their_splits_and_thresholds():
    expected = {
        'haris_refcoco.py': ['val', 'testA', 'testB'],
        'haris_refcoco+.py': ['val', 'testA', 'testB'],
        'haris_refcocog_umd.py': ['val', 'test'],
        'haris_refcocog_google.py': ['val'],
    }
    for name, splits in expected.items():
        cfg = Config.fromfile(osp.join(ROOT, 'configs', name))
        assert cfg.test_splits == splits, name
        assert tuple(cfg.test_evaluator.thresholds) == (None, 0.35), name


def test_summary_table_has_every_splits_keys():
    tool = load_tool()
    table = tool.summary_table({
        'val': {'gIoU': 50.0, 'T-acc': 99.0, 'Pr@0.7': 40.0,
                'Pr@0.7@0.35': 41.0},
        'testA': {'gIoU': 60.0, 'N-acc': 90.0, 'T-acc': 98.0},
    }).splitlines()
    header = [c.strip() for c in table[1].split('|')[1:-1]]
    assert header == ['split', 'gIoU', 'T-acc', 'Pr@0.7', 'N-acc']
    val = [c.strip() for c in table[3].split('|')[1:-1]]
    assert val == ['val', '50.0', '99.0', '40.0', '']
