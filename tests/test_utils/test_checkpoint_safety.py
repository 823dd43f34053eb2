"""Importing the package changes nothing; our tools allow mmengine's
checkpoint types only inside their own loads."""
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from mmengine.logging.history_buffer import HistoryBuffer

from projects.haris.utils import (load_local_checkpoint,
                                  mmengine_checkpoint_globals,
                                  weights_only_by_default)
from tests.e2e_utils import ROOT

needs_weights_only = pytest.mark.skipif(
    not weights_only_by_default(),
    reason='this torch unpickles fully by default; nothing to allow')


def mmengine_like_checkpoint(path):
    """What mmengine's Runner writes besides tensors: a HistoryBuffer and
    numpy values in the message hub."""
    torch.save(
        dict(state_dict=dict(w=torch.ones(3)),
             message_hub=dict(log_scalars=dict(
                                  loss=HistoryBuffer([1.0], [1])),
                              runtime_info=dict(best=np.float64(0.5),
                                                arr=np.arange(3)))), path)


SNAPSHOT = textwrap.dedent('''
    import json, sys
    import torch
    from mmengine.registry import init_default_scope
    from mmengine.runner.checkpoint import CheckpointLoader
    import mmpretrain.models  # noqa: F401
    from mmpretrain.registry import MODELS

    PATH, PRETRAINED = sys.argv[1], sys.argv[2]

    def outcome(load):
        try:
            load()
            return 'loaded'
        except Exception as err:
            return type(err).__name__

    def pretrained_init():
        vit = MODELS.build(dict(
            type='VisionTransformer',
            arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                      feedforward_channels=64),
            img_size=32, patch_size=8,
            init_cfg=dict(type='Pretrained', checkpoint=PRETRAINED)))
        vit.init_weights()
        assert float(vit.cls_token.sum()) == 7.0  # the file's weights

    def snapshot():
        get = getattr(torch.serialization, 'get_safe_globals', list)
        return dict(
            safe_globals=sorted(map(str, get())),
            schemes={k: v.__qualname__
                     for k, v in CheckpointLoader._schemes.items()},
            torch_load=outcome(lambda: torch.load(PATH)),
            mmengine_load=outcome(
                lambda: CheckpointLoader.load_checkpoint(PATH)),
            mmpretrain_pretrained=outcome(pretrained_init))

    init_default_scope('mmpretrain')
    before = snapshot()
    import projects.haris  # noqa: F401
    print(json.dumps(dict(before=before, after=snapshot())))
''')


def test_import_changes_no_loading_behaviour(tmp_path):
    """torch's allow-list, mmengine's loaders, a plain torch.load and an
    mmpretrain Pretrained init behave the same after importing us."""
    mmengine_like_checkpoint(tmp_path / 'runner.pth')
    from mmpretrain.models import VisionTransformer
    vit = VisionTransformer(
        arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                  feedforward_channels=64), img_size=32, patch_size=8)
    state = vit.state_dict()
    state['cls_token'] = torch.full_like(state['cls_token'], 7 / 32)
    torch.save(dict(state_dict=state, meta=dict(epoch=np.int64(3))),
               tmp_path / 'vit.pth')
    proc = subprocess.run(
        [sys.executable, '-c', SNAPSHOT, str(tmp_path / 'runner.pth'),
         str(tmp_path / 'vit.pth')],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen['after'] == seen['before']
    if weights_only_by_default():  # the loads are refused with or without
        assert seen['before']['torch_load'] == 'UnpicklingError'
        assert seen['before']['mmpretrain_pretrained'] != 'loaded'


@needs_weights_only
def test_mmengine_types_allowed_only_inside_the_scope(tmp_path):
    path = tmp_path / 'runner.pth'
    mmengine_like_checkpoint(path)
    with pytest.raises(Exception, match='HistoryBuffer|Unsupported global'):
        torch.load(path)
    with mmengine_checkpoint_globals():
        ckpt = torch.load(path)
    hub = ckpt['message_hub']
    assert hub['log_scalars']['loss'].current() == 1.0
    assert hub['runtime_info']['arr'].tolist() == [0, 1, 2]
    with pytest.raises(Exception, match='HistoryBuffer|Unsupported global'):
        torch.load(path)
    assert load_local_checkpoint(str(path))['state_dict']['w'].sum() == 3


@needs_weights_only
def test_foreign_objects_are_refused_inside_the_scope(tmp_path):
    class Payload:

        def __reduce__(self):
            return (print, ('code ran', ))

    torch.save(dict(state_dict={}, meta=Payload()), tmp_path / 'evil.pth')
    with pytest.raises(RuntimeError, match='evil.pth'):
        load_local_checkpoint(str(tmp_path / 'evil.pth'))
