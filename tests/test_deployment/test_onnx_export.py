"""ONNX export through tools/deployment/export_onnx.py, checked against
the PyTorch model, and the ONNX Runtime runner against RefSegInferencer."""
import copy
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import save_checkpoint

from projects.haris.apis import RefSegInferencer
from tests.e2e_utils import ROOT
from tests.tiny_models import tiny_model_cfg

onnx = pytest.importorskip('onnx')
ort = pytest.importorskip('onnxruntime')
pytest.importorskip('onnxscript')  # torch's ONNX exporter needs it

from tools.deployment.export_onnx import (  # noqa: E402
    INPUT_NAMES, ReferringOnnxModel, example_inputs, export_onnx, trace_size)
from tools.deployment.onnx_inference import \
    OnnxRefSegInferencer  # noqa: E402

EXPORT = osp.join(ROOT, 'tools', 'deployment', 'export_onnx.py')


def export_tiny(tmp, no_target=False):
    """A tiny model with non-zero LoRA adapters (LoRA's B starts at zero;
    non-zero, merging them matters), saved as config + checkpoint and
    exported by the command line tool. ``no_target`` builds the decode
    head with the no-target output."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'haris_synthetic.py'))
    cfg.model = tiny_model_cfg()
    cfg.model.decode_head.no_target = no_target
    cfg.dump(str(tmp / 'tiny.py'))
    torch.manual_seed(1)
    model = RefSegInferencer(cfg, device='cpu', merge_adapters=False).model
    with torch.no_grad():
        for name, param in model.named_parameters():
            if 'lora_B' in name:
                param.normal_(0, 0.2)
    save_checkpoint(model.state_dict(), str(tmp / 'tiny.pth'))
    proc = subprocess.run(
        [sys.executable, EXPORT, str(tmp / 'tiny.py'),
         str(tmp / 'tiny.pth'), '--out', str(tmp / 'tiny.onnx')],
        capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert 'checked at 64x64' in proc.stdout
    return dict(config=str(tmp / 'tiny.py'), ckpt=str(tmp / 'tiny.pth'),
                onnx=str(tmp / 'tiny.onnx'), model=model.eval(), cfg=cfg,
                stdout=proc.stdout)


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    return export_tiny(tmp_path_factory.mktemp('onnx'))


@pytest.fixture(scope='module')
def exported_no_target(tmp_path_factory):
    return export_tiny(tmp_path_factory.mktemp('onnx_nt'), no_target=True)


def dims(value):
    """The named (str) or fixed (int) sizes of a graph input or output."""
    return [d.dim_param or d.dim_value
            for d in value.type.tensor_type.shape.dim]


def test_checker_and_named_dynamic_axes(exported):
    onnx.checker.check_model(exported['onnx'], full_check=True)
    graph = onnx.load(exported['onnx']).graph
    inputs = {i.name: dims(i) for i in graph.input}
    assert list(inputs) == list(INPUT_NAMES)
    assert inputs['image'][:2] == ['batch', 3]
    assert all(isinstance(d, str) for d in inputs['image'][2:])
    assert inputs['token_ids'] == inputs['token_mask'] == [
        'batch', 'text_length'
    ]
    assert [o.name for o in graph.output] == ['mask_logits']
    assert dims(graph.output[0]) == ['batch', 1, 'mask_height', 'mask_width']


# (batch, input size, text length): the config's 64x64, CLIP's native
# 32x32 (where transformers skips interpolation unless traced), non-square
# sizes, and two text lengths with padding in each batch
CASES = [(1, (64, 64), 16), (2, (64, 64), 16), (2, (64, 64), 7),
         (1, (32, 32), 16), (2, (48, 80), 16), (2, (96, 64), 9),
         (2, (96, 96), 22)]


@pytest.mark.parametrize('batch,size,length', CASES)
def test_onnx_runtime_matches_pytorch(exported, batch, size, length,
                                     record_property):
    """Against the model with its adapters not merged: the export merges
    them, which must not change the logits beyond float rounding. The
    largest difference is recorded (``--junitxml`` shows it)."""
    torch.manual_seed(batch * 100 + length)
    inputs = example_inputs(batch, size, length, words=(length - 2, 2))
    assert inputs[2][0].all()
    assert batch == 1 or not inputs[2][1].all()  # padding in row 1
    with torch.no_grad():
        expected = ReferringOnnxModel(exported['model'])(*inputs)[0].numpy()
    session = ort.InferenceSession(
        exported['onnx'], providers=['CPUExecutionProvider'])
    got = session.run(None, {
        name: t.numpy()
        for name, t in zip(INPUT_NAMES, inputs)
    })[0]
    assert got.shape == expected.shape == (batch, 1, size[0] // 4,
                                           size[1] // 4)
    diff = float(np.abs(got - expected).max())
    record_property('max_abs_diff', diff)
    assert diff < 1e-4
    a, b = expected > 0, got > 0
    assert (a | b).any()
    assert (a & b).sum() / (a | b).sum() >= 0.99


def test_runner_returns_the_inferencers_results(exported):
    torch_inferencer = RefSegInferencer(exported['config'], exported['ckpt'],
                                        device='cpu')
    onnx_inferencer = OnnxRefSegInferencer(exported['config'],
                                           exported['onnx'])
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 255, (50, 90), np.uint8)
    colour = rng.integers(0, 255, (70, 40, 3), np.uint8)
    texts = ['the red circle', 'the small blue square on the left']
    for image in (grey, colour):
        expected = torch_inferencer(image, texts)
        got = onnx_inferencer(image, texts)
        for a, b in zip(expected, got):
            assert a.keys() == b.keys()
            assert a['text'] == b['text']
            np.testing.assert_array_equal(a['token_ids'], b['token_ids'])
            np.testing.assert_allclose(a['prob'], b['prob'], atol=1e-4)
            inter = (a['mask'] & b['mask']).sum()
            union = (a['mask'] | b['mask']).sum()
            assert union == 0 or inter / union >= 0.99
            assert b['score'] == pytest.approx(a['score'], abs=1e-4)


def test_runner_command_line(exported, tmp_path):
    import cv2
    cv2.imwrite(str(tmp_path / 'img.png'),
                np.full((30, 50, 3), 128, np.uint8))
    proc = subprocess.run(
        [sys.executable, 'tools/deployment/onnx_inference.py',
         str(tmp_path / 'img.png'), 'the left one', 'the right one',
         '--config', exported['config'], '--onnx', exported['onnx'],
         '--out', str(tmp_path / 'o.png')],
        capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert cv2.imread(str(tmp_path / 'o.png')).shape[1] == 50
    assert cv2.imread(str(tmp_path / 'o_1.png')) is not None
    proc = subprocess.run(
        [sys.executable, 'tools/deployment/onnx_inference.py',
         str(tmp_path / 'img.png'), 'x', '--config', exported['config'],
         '--onnx', str(tmp_path / 'missing.onnx')],
        capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode != 0
    assert 'missing.onnx not found' in proc.stderr
    assert 'export_onnx.py' in proc.stderr


def test_trace_size_avoids_the_native_square_shortcut():
    assert trace_size((64, 64), 8, 32) == (64, 72)
    assert trace_size((32, 32), 8, 32) == (32, 40)
    assert trace_size((48, 80), 8, 32) == (48, 80)


def test_size_not_a_multiple_of_the_patch_is_refused(exported, tmp_path):
    with pytest.raises(ValueError, match='multiples of the patch size 8'):
        export_onnx(copy.deepcopy(exported['model']),
                    str(tmp_path / 'x.onnx'), (60, 64))


def test_no_target_output_has_a_dynamic_batch_axis(exported_no_target):
    graph = onnx.load(exported_no_target['onnx']).graph
    assert [o.name for o in graph.output] == ['mask_logits',
                                              'no_target_logit']
    outputs = {o.name: dims(o) for o in graph.output}
    assert outputs['no_target_logit'] == ['batch', 1]
    assert outputs['mask_logits'] == ['batch', 1, 'mask_height',
                                      'mask_width']
    assert 'mask_logits_max_abs_diff' in exported_no_target['stdout']
    assert 'no_target_logit_max_abs_diff' in exported_no_target['stdout']


@pytest.mark.parametrize('batch,length', [(1, 7), (1, 22), (3, 7),
                                          (3, 22)])
def test_no_target_output_matches_pytorch(exported_no_target, batch, length,
                                          record_property):
    """Both outputs of the exported generalized model against the PyTorch
    model with its adapters not merged, at batch sizes and text lengths
    other than the export's (2 and 22)."""
    torch.manual_seed(batch * 10 + length)
    inputs = example_inputs(batch, (48, 64), length, words=(length - 2, 2))
    with torch.no_grad():
        expected = ReferringOnnxModel(exported_no_target['model'])(*inputs)
    got = ort.InferenceSession(
        exported_no_target['onnx'],
        providers=['CPUExecutionProvider']).run(
            None, {n: t.numpy() for n, t in zip(INPUT_NAMES, inputs)})
    assert got[0].shape == (batch, 1, 12, 16)
    assert got[1].shape == (batch, 1)
    assert len(set(got[1][:, 0].tolist())) == batch  # one per sentence
    for name, e, g in zip(('mask', 'no_target'), expected, got):
        diff = float(np.abs(e.numpy() - g).max())
        record_property(f'{name}_max_abs_diff', diff)
        assert diff < 1e-4, name


def test_no_target_answers_equal_the_inferencers(exported_no_target):
    """The runner gives the inferencer's no-target answers, with one
    sentence each side of the threshold."""
    cfg = copy.deepcopy(exported_no_target['cfg'])
    ckpt = exported_no_target['ckpt']
    image = np.random.default_rng(1).integers(0, 255, (40, 70, 3), np.uint8)
    texts = ['the red circle', 'a blue square on the left of the image']
    scores = [r['no_target_score'] for r in RefSegInferencer(
        cfg, ckpt, device='cpu')(image, texts)]
    assert scores[0] != scores[1]
    cfg.model.decode_head.no_target_threshold = float(np.mean(scores))
    expected = RefSegInferencer(cfg, ckpt, device='cpu')(image, texts)
    got = OnnxRefSegInferencer(cfg, exported_no_target['onnx'])(image,
                                                                texts)
    assert [r['no_target'] for r in expected] == [
        scores[0] > scores[1], scores[1] > scores[0]
    ]
    for a, b in zip(expected, got):
        assert a.keys() == b.keys()
        assert b['no_target'] == a['no_target']
        assert b['no_target_score'] == pytest.approx(a['no_target_score'],
                                                     abs=1e-4)
        np.testing.assert_allclose(a['prob'], b['prob'], atol=1e-4)
        union = (a['mask'] | b['mask']).sum()
        assert union == 0 or (a['mask'] & b['mask']).sum() / union >= 0.99
        if b['no_target']:
            assert not b['mask'].any()
