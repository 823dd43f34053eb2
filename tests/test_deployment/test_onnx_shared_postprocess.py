"""The ONNX runner answers through the segmentor's own post-processing:
a post-processing option of the decode head set in the config changes the
runner's answers as it changes PyTorch's. (ONNX Runtime against PyTorch
is test_onnx_export.py's.)"""
import copy
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import save_checkpoint

from projects.haris.apis import RefSegInferencer
from tests.e2e_utils import ROOT
from tests.tiny_models import tiny_model_cfg

pytest.importorskip('onnxruntime')

from tools.deployment.export_onnx import (  # noqa: E402
    INPUT_NAMES, ReferringOnnxModel)
from tools.deployment.onnx_inference import \
    OnnxRefSegInferencer  # noqa: E402


class TorchSession:
    """Stands in for ``onnxruntime.InferenceSession``: the exported
    function (``ReferringOnnxModel``) run by PyTorch, so the runner's code
    around the network is tested without an export."""

    def __init__(self, model):
        self.net = ReferringOnnxModel(model)

    def get_inputs(self):
        return [SimpleNamespace(name=n) for n in INPUT_NAMES]

    def get_outputs(self):
        return [SimpleNamespace(name=n) for n in self.net.output_names]

    def run(self, names, feed):
        with torch.no_grad():
            outs = self.net(*(torch.from_numpy(feed[n]) for n in INPUT_NAMES))
        return [o.numpy() for o in outs]


@pytest.fixture(scope='module')
def says_target(tmp_path_factory):
    """A tiny model with the no-target output whose head says "there is a
    target" (p 0.0025) for every sentence, as config and checkpoint."""
    tmp = tmp_path_factory.mktemp('onnx_rule')
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'haris_synthetic.py'))
    cfg.model = tiny_model_cfg()
    cfg.model.decode_head.no_target = True
    torch.manual_seed(3)
    model = RefSegInferencer(cfg, device='cpu').model
    last = model.decode_head.no_target_cls[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(-6.0)
    ckpt = str(tmp / 'm.pth')
    save_checkpoint(model.state_dict(), ckpt)
    path = tmp / 'm.onnx'
    path.write_bytes(b'')
    return cfg, ckpt, str(path)


@pytest.mark.parametrize('empty_mask_is_no_target', [True, False])
def test_runner_follows_the_heads_answer_option(says_target, monkeypatch,
                                                empty_mask_is_no_target):
    """Mask threshold 1.1: every mask is empty, so the answers are "no
    target" with the option on and the head's "target" with it off."""
    import onnxruntime
    cfg, ckpt, path = says_target
    cfg = copy.deepcopy(cfg)
    cfg.model.decode_head.update(
        threshold=1.1, empty_mask_is_no_target=empty_mask_is_no_target)
    torch_inferencer = RefSegInferencer(cfg, ckpt, device='cpu')
    monkeypatch.setattr(
        onnxruntime, 'InferenceSession',
        lambda *args, **kwargs: TorchSession(torch_inferencer.model))
    image = np.random.default_rng(4).integers(0, 255, (40, 70, 3), np.uint8)
    texts = ['the red circle', 'the square on the left']
    expected = torch_inferencer(image, texts)
    got = OnnxRefSegInferencer(cfg, path)(image, texts)
    for a, b in zip(expected, got):
        assert a['no_target'] is empty_mask_is_no_target
        assert b['no_target'] is a['no_target']
        assert b['no_target_score'] == pytest.approx(a['no_target_score'],
                                                     abs=1e-5)
        assert not a['mask'].any() and not b['mask'].any()
