"""Exact resume in two processes (gloo on CPU): killed right after a
checkpoint and resumed, each process continues its own dropout stream and
its own data workers' stream, and ends with the uninterrupted run's
weights."""
import os
import os.path as osp
import sys

import torch
from mmengine.config import Config
from transformers import CLIPConfig, CLIPModel

from projects.haris.utils import load_local_checkpoint
from tests.e2e_utils import ROOT, run, small_options

CONFIG = osp.join(
    ROOT, 'configs',
    'haris_tiny-clip-pretrained-lora_1xb16-3k_synthetic-96x96.py')
# LoRA dropout 0.1 (the config's default adapters); a seed per process, so
# the processes' dropout streams differ; one persistent data worker per
# process, so the sentence and flip draws live in the workers
OPTIONS = [
    'randomness.diff_rank_seed=True',
    'default_hooks.checkpoint.interval=2',
    'train_dataloader.num_workers=1',
    'train_dataloader.persistent_workers=True',
]


def write_config(tmp, name, clip_dir, hooks):
    path = tmp / f'{name}.py'
    hooks = [dict(h) for h in Config.fromfile(CONFIG).custom_hooks] + hooks
    path.write_text(
        f'_base_ = [{CONFIG!r}]\n'
        "custom_imports = dict(imports=['projects.haris', "
        "'tests.e2e_rank_hooks'], allow_failed_imports=False)\n"
        f'custom_hooks = {hooks!r}\n'
        f'model = dict(backbone=dict(pretrained={str(clip_dir)!r}))\n')
    return str(path)


def train(config, work, data, resume=False):
    return run(['bash', 'tools/dist_train.sh', config, '2', '--work-dir',
                work] + ['--resume'] * resume + ['--cfg-options'] +
               small_options(data, iters=4) + OPTIONS, check=False)


def record(out, rank, kind):
    return torch.load(f'{out}.rank{rank}.{kind}.pth', weights_only=True)


def test_each_process_resumes_its_own_streams(tmp_path, monkeypatch):
    """4 iterations, checkpoint at 2; killed right after it, resumed.
    Per process: the samples and the generator state after every step,
    and the final trainable weights, equal the uninterrupted run's."""
    monkeypatch.setenv('PATH', osp.dirname(sys.executable) + os.pathsep +
                       os.environ['PATH'])
    torch.manual_seed(0)
    CLIPModel(CLIPConfig(**Config.fromfile(CONFIG).tiny_clip)) \
        .save_pretrained(tmp_path / 'clip')
    data = str(tmp_path / 'data')
    outs = {name: str(tmp_path / f'record_{name}')
            for name in ('whole', 'killed', 'resumed')}
    configs = {
        name: write_config(tmp_path, name, tmp_path / 'clip', [
            dict(type='RankRecordHook', out=out)
        ] + ([dict(type='RankFaultHook', die_after_checkpoint=2)]
             if name == 'killed' else []))
        for name, out in outs.items()
    }
    whole, killed = str(tmp_path / 'whole'), str(tmp_path / 'killed')
    proc = train(configs['whole'], whole, data)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = train(configs['killed'], killed, data)
    assert proc.returncode != 0
    assert osp.isfile(osp.join(killed, 'iter_2.pth'))
    assert not osp.exists(osp.join(killed, 'iter_4.pth'))
    proc = train(configs['resumed'], killed, data, resume=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'resumed epoch: 0, iter: 2' in proc.stdout + proc.stderr

    steps = {r: record(outs['whole'], r, 'steps') for r in (0, 1)}
    # the processes' streams differ: restoring one process's generator in
    # another would show
    assert not torch.equal(steps[0][1]['rng'], steps[1][1]['rng'])
    assert steps[0][1]['samples'] != steps[1][1]['samples']
    for rank in (0, 1):
        again = dict(record(outs['killed'], rank, 'steps'))
        again.update(record(outs['resumed'], rank, 'steps'))
        assert sorted(again) == sorted(steps[rank]) == [1, 2, 3, 4]
        for step, expected in steps[rank].items():
            assert again[step]['samples'] == expected['samples'], \
                (rank, step)
            assert torch.equal(again[step]['rng'], expected['rng']), \
                (rank, step)
    for rank in (0, 1):
        a = record(outs['whole'], rank, 'weights')
        b = record(outs['resumed'], rank, 'weights')
        assert a.keys() == b.keys() and any('lora_' in k for k in a)
        for key, value in a.items():
            assert torch.equal(value, b[key]), (rank, key)
    a = load_local_checkpoint(osp.join(whole, 'iter_4.pth'))['state_dict']
    b = load_local_checkpoint(osp.join(killed, 'iter_4.pth'))['state_dict']
    assert a.keys() == b.keys()
    for key, value in a.items():
        assert torch.equal(value, b[key]), key
