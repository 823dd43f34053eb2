"""The paper's recipe end to end: a pretrained CLIP (saved with
``save_pretrained``), frozen, with LoRA, through tools/train.py (1 and 2
processes), --resume and tools/test.py, on checkpoints that hold only what
trains."""
import json
import os
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config
from safetensors.torch import load_file
from transformers import CLIPConfig, CLIPModel

from projects.haris.apis import RefSegInferencer
from projects.haris.utils import load_local_checkpoint
from tests.e2e_utils import (ROOT, assert_nontrivial, latest_metrics, run,
                             small_options, split_sentences,
                             spread_threshold)

CONFIG = osp.join(ROOT, 'configs',
                  'haris_tiny-clip-pretrained-lora_1xb16-3k_synthetic-96x96.py')


def write_config(tmp, name, clip_dir, hooks=()):
    """A config on top of the frozen+LoRA demo config, with the test hooks
    importable and the pretrained CLIP read from ``clip_dir``."""
    path = tmp / f'{name}.py'
    hooks = [dict(h) for h in Config.fromfile(CONFIG).custom_hooks] + \
        list(hooks)
    path.write_text(
        f'_base_ = [{CONFIG!r}]\n'
        "custom_imports = dict(imports=['projects.haris', "
        "'tests.e2e_hooks'], allow_failed_imports=False)\n"
        f'custom_hooks = {hooks!r}\n'
        f'model = dict(backbone=dict(pretrained={str(clip_dir)!r}))\n')
    return str(path)


def train(config, work, data, options=(), iters=6, processes=1,
          resume=False):
    if processes > 1:
        entry = ['bash', 'tools/dist_train.sh', config, str(processes)]
    else:
        entry = [sys.executable, 'tools/train.py', config]
    return run(entry + ['--work-dir', work] + ['--resume'] * resume +
               ['--cfg-options'] + small_options(data, iters=iters) +
               list(options), check=False)


def evaluate(config, ckpt, work, data, options=()):
    return run([sys.executable, 'tools/test.py', config, ckpt, '--work-dir',
                work, '--out', work, '--cfg-options'] + small_options(data) +
               list(options), check=False)


def predictions(config, ckpt, data):
    """The inferencer's results on the test split's sentences."""
    pairs = split_sentences(data, config=config)
    inferencer = RefSegInferencer(config, ckpt, device='cpu',
                                  merge_adapters=False)
    return inferencer([p[0] for p in pairs], [p[1] for p in pairs])


def saved_clip(clip_dir):
    """The saved CLIP's tensors under the model's state-dict names."""
    state = load_file(osp.join(clip_dir, 'model.safetensors'))
    return {'backbone.clip.' + k: v for k, v in state.items()}


def non_adapter_clip(state):
    """CLIP tensors of a checkpoint that are not adapters, under the saved
    model's names (peft moves a wrapped layer's weight to base_layer)."""
    return {
        k.replace('.base_layer.', '.'): v
        for k, v in state.items()
        if k.startswith('backbone.clip.') and 'lora_' not in k
    }


def lora_b(state):
    return {k: v for k, v in state.items() if 'lora_B' in k}


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """A tiny CLIP of the demo's shape saved as a user would download it,
    and a 6-iteration run on it (checkpoints at 3 and 6) with the
    eval-mode probe."""
    tmp = tmp_path_factory.mktemp('lora')
    torch.manual_seed(0)
    CLIPModel(CLIPConfig(**Config.fromfile(CONFIG).tiny_clip)) \
        .save_pretrained(tmp / 'clip')
    probe = str(tmp / 'probe')
    config = write_config(tmp, 'probed', tmp / 'clip', hooks=[
        dict(type='FrozenEncoderProbeHook', out=probe)])
    proc = train(config, str(tmp / 'work'), str(tmp / 'data'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.load(open(probe + '.rank0'))['checked'] == 6
    return tmp, config


def test_checkpoint_holds_only_what_trains(setup):
    tmp, _ = setup
    base = saved_clip(tmp / 'clip')
    ckpt = load_local_checkpoint(str(tmp / 'work' / 'iter_6.pth'))
    state = ckpt['state_dict']
    assert not non_adapter_clip(state)
    assert lora_b(state) and all(v.abs().sum() > 0  # peft inits B to 0
                                 for v in lora_b(state).values())
    assert any(k.startswith('neck.') for k in state)
    assert any(k.startswith('decode_head.') for k in state)
    info = ckpt['meta']['frozen_weights']
    assert info['source'] == str(tmp / 'clip')
    assert info['num_tensors'] == len(base)  # every saved CLIP tensor
    assert ckpt['optimizer']['state'] and ckpt['message_hub']


def test_two_processes_keep_clip_bit_identical(setup):
    """2 gloo processes with full checkpoints: every non-adapter CLIP tensor
    written is the saved model's, bit for bit; the adapters moved; CLIP
    stayed in eval mode in both processes."""
    tmp, _ = setup
    probe = str(tmp / 'dist_probe')
    config = write_config(tmp, 'dist', tmp / 'clip', hooks=[
        dict(type='FrozenEncoderProbeHook', out=probe)])
    bindir = osp.dirname(sys.executable)
    os.environ['PATH'] = bindir + os.pathsep + os.environ['PATH']
    proc = train(config, str(tmp / 'dist'), str(tmp / 'data'), processes=2,
                 options=['default_hooks.checkpoint.save_frozen=True'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    for rank in (0, 1):
        assert json.load(open(f'{probe}.rank{rank}'))['checked'] == 6
    base = saved_clip(tmp / 'clip')
    state = load_local_checkpoint(str(tmp / 'dist' / 'iter_6.pth'))[
        'state_dict']
    written = non_adapter_clip(state)
    assert set(written) == set(base)
    for key, value in base.items():
        assert torch.equal(written[key], value), key
    assert all(v.abs().sum() > 0 for v in lora_b(state).values())


def test_tools_test_on_trained_weights_only_equals_full(setup):
    """The same run written both ways tests to the same metrics; the small
    checkpoint is refused on other base weights, naming the cause."""
    tmp, config = setup
    data = str(tmp / 'data')
    proc = train(config, str(tmp / 'full'), data,
                 options=['default_hooks.checkpoint.save_frozen=True'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    small, full = str(tmp / 'work' / 'iter_6.pth'), str(tmp / 'full' /
                                                          'iter_6.pth')
    assert osp.getsize(small) < osp.getsize(full)
    # at the model's own threshold every mask of 6 iterations is empty
    probs = [p['prob'] for p in predictions(config, full, data)]
    threshold = spread_threshold(probs)
    metrics, rows = [], []
    for name, ckpt in (('small', small), ('full', full)):
        work = str(tmp / f'test_{name}')
        proc = evaluate(config, ckpt, work, data, [
            f'model.decode_head.threshold={threshold!r}'])
        assert proc.returncode == 0, proc.stderr[-3000:]
        metrics.append(latest_metrics(work))
        rows.append(open(osp.join(work, 'results.jsonl')).read())
    assert_nontrivial([p > threshold for p in probs], metrics[1]['mIoU'])
    for key in ('oIoU', 'mIoU', 'Prec@0.5'):
        assert metrics[0][key] == metrics[1][key], key
    assert rows[0] == rows[1]  # every sentence's IoU
    torch.manual_seed(1)
    CLIPModel(CLIPConfig(**Config.fromfile(CONFIG).tiny_clip)) \
        .save_pretrained(tmp / 'other_clip')
    other = write_config(tmp, 'other', tmp / 'other_clip')
    proc = evaluate(other, small, str(tmp / 'test_other'), data)
    assert proc.returncode != 0
    assert 'frozen encoder weights came from' in proc.stderr
    assert str(tmp / 'clip') in proc.stderr


def test_faults_at_fixed_points_resume_to_the_same_weights(setup):
    """Killed right after checkpoint 6, then killed half-way through
    writing checkpoint 9: resuming twice gives the weights of an
    uninterrupted 9-iteration run, exactly. Every run validates at each
    checkpoint, so something draws from torch's generator between two
    steps in the uninterrupted run and not in the resumed ones."""
    tmp, _ = setup
    data = str(tmp / 'data')
    val = ['train_cfg.val_interval=3']
    whole, killed = str(tmp / 'whole'), str(tmp / 'killed')
    config = write_config(tmp, 'plain', tmp / 'clip')
    assert train(config, whole, data, options=val, iters=9).returncode == 0
    after_6 = write_config(tmp, 'die_after_6', tmp / 'clip', hooks=[
        dict(type='FaultHook', die_after_checkpoint=6)])
    proc = train(after_6, killed, data, options=val, iters=9)
    assert proc.returncode != 0
    assert not osp.exists(osp.join(killed, 'iter_9.pth'))
    writing_9 = write_config(tmp, 'die_writing_9', tmp / 'clip', hooks=[
        dict(type='FaultHook', die_writing_checkpoint=9)])
    proc = train(writing_9, killed, data, options=val, iters=9,
                 resume=True)
    assert proc.returncode != 0
    assert 'resumed epoch: 0, iter: 6' in proc.stdout + proc.stderr
    with pytest.raises(RuntimeError, match='iter_9.pth'):
        load_local_checkpoint(osp.join(killed, 'iter_9.pth'))  # half
    proc = train(config, killed, data, options=val, iters=9,
                 resume=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'resumed epoch: 0, iter: 6' in proc.stdout + proc.stderr
    a = load_local_checkpoint(osp.join(whole, 'iter_9.pth'))['state_dict']
    b = load_local_checkpoint(osp.join(killed, 'iter_9.pth'))['state_dict']
    assert a.keys() == b.keys()
    for key, value in a.items():
        assert torch.equal(value, b[key]), key
