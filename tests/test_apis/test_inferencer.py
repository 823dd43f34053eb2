import subprocess
import sys

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from projects.haris.apis import RefSegInferencer
from tests.test_apis.bright_segmentor import bright_config, bright_pixels
from tests.test_datasets.test_image_decoding import image_kinds
from tests.tiny_models import tiny_model_cfg


@pytest.fixture(scope='module')
def inferencer():
    cfg = Config.fromfile('configs/haris_synthetic.py')
    cfg.model = tiny_model_cfg()
    return RefSegInferencer(cfg, checkpoint=None, device='cpu')


def test_masks_at_original_size_and_broadcast(inferencer):
    img = np.random.randint(0, 255, (50, 90, 3), np.uint8)
    results = inferencer(img, ['the red circle', 'the blue square'])
    assert len(results) == 2
    for r in results:
        assert r['mask'].shape == (50, 90) and r['mask'].dtype == bool
        assert r['prob'].shape == (50, 90)
        inside = r['prob'][r['mask']]
        assert r['score'] == pytest.approx(
            float(inside.mean()) if inside.size else 0.0)
        assert np.array_equal(r['mask'], r['prob'] > 0.5)
    assert results[1]['text'] == 'the blue square'
    one_by_one = [inferencer(img, t)[0] for t in ('the red circle',
                                                  'the blue square')]
    for a, b in zip(results, one_by_one):
        np.testing.assert_allclose(a['prob'], b['prob'], atol=1e-5)


@pytest.fixture(scope='module')
def bright():
    """An inferencer whose masks are the image's bright pixels."""
    cfg = Config.fromfile('configs/haris_synthetic.py')
    cfg.model = bright_config(tiny_model_cfg())
    return RefSegInferencer(cfg, checkpoint=None, device='cpu')


def test_image_kinds(bright, tmp_path):
    """Grey, RGBA, palette and 16-bit images, from a file, a PIL image or
    an array: the mask is the bright part of the converted pixels."""
    images, wanted = [], []
    for name, (path, pil, array, pixels) in image_kinds(tmp_path).items():
        want = bright_pixels(pixels)
        assert 0.1 < want.mean() < 0.5, name
        for image in (path, pil, array):
            if image is not None:
                images.append(image)
                wanted.append((name, want))
    results = bright(images, 'the bright part', batch_size=len(images))
    for result, (name, want) in zip(results, wanted):
        mask = result['mask']
        assert mask.shape == want.shape, name
        assert (mask & want).sum() / (mask | want).sum() > 0.8, name
    assert bright(np.zeros((1, 1, 3), np.uint8), 'dot')[0][
        'mask'].shape == (1, 1)


def test_bad_inputs(inferencer, tmp_path):
    with pytest.raises(FileNotFoundError, match='nothere.jpg'):
        inferencer(str(tmp_path / 'nothere.jpg'), 'a cat')
    (tmp_path / 'broken.jpg').write_bytes(b'not a jpeg')
    with pytest.raises(ValueError, match='could not be decoded'):
        inferencer(str(tmp_path / 'broken.jpg'), 'a cat')
    img = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match='Empty expression'):
        inferencer(img, '  ')
    with pytest.warns(UserWarning, match='truncated'):
        inferencer(img, ' '.join(['word'] * 40))
    with pytest.raises(ValueError, match='2 images and 3 expressions'):
        inferencer([img, img], ['a', 'b', 'c'])


def test_overlay_has_caption_band(inferencer):
    img = np.zeros((30, 60, 3), np.uint8)
    result = inferencer(img, 'the thing')[0]
    drawn = inferencer.overlay(img, result)
    assert drawn.shape[1] == 60 and drawn.shape[0] > 30


def test_demo_cli_writes_one_overlay_per_expression(tmp_path):
    cfg = Config.fromfile('configs/haris_synthetic.py')
    cfg.model = tiny_model_cfg()
    cfg.dump(str(tmp_path / 'tiny.py'))
    from mmengine.runner import save_checkpoint
    model = RefSegInferencer(cfg, device='cpu').model
    save_checkpoint(model.state_dict(), str(tmp_path / 'tiny.pth'))
    cv2.imwrite(str(tmp_path / 'img.jpg'), np.zeros((20, 30, 3), np.uint8))
    proc = subprocess.run(
        [sys.executable, 'demo/image_demo.py', str(tmp_path / 'img.jpg'),
         'the left one', 'the right one', '--config',
         str(tmp_path / 'tiny.py'), '--checkpoint', str(tmp_path / 'tiny.pth'),
         '--out', str(tmp_path / 'o.png')], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert cv2.imread(str(tmp_path / 'o.png')).shape[1] == 30
    assert cv2.imread(str(tmp_path / 'o_1.png')) is not None
    other = Config.fromfile('configs/haris_synthetic.py')
    other.model = tiny_model_cfg()
    other.model.neck.dim = 16
    with pytest.raises(ValueError, match='does not fit'):
        RefSegInferencer(other, str(tmp_path / 'tiny.pth'), device='cpu')
    proc = subprocess.run(
        [sys.executable, 'demo/image_demo.py', str(tmp_path / 'none.jpg'),
         'x', '--config', str(tmp_path / 'tiny.py'), '--checkpoint',
         str(tmp_path / 'tiny.pth')], capture_output=True, text=True)
    assert proc.returncode != 0 and 'none.jpg not found' in proc.stderr


def test_attention_maps_are_the_maps_the_model_used(inferencer, tmp_path):
    import torch

    from projects.haris.apis import collect_attention, draw_attention_figure
    img = np.random.randint(0, 255, (40, 64, 3), np.uint8)
    neck = inferencer.model.neck
    # the neck's own inputs in a plain run, to recompute its maps directly
    seen = []
    handle = neck.register_forward_pre_hook(
        lambda mod, args: seen.append(args))
    plain = inferencer(img, 'the red circle')[0]
    handle.remove()
    att = collect_attention(inferencer, img, 'the red circle', level=0)
    assert att['words'] == ['<start_of_text>', 'the', 'red', 'circle',
                            '<end_of_text>']
    assert not neck._forward_hooks and not neck._forward_pre_hooks
    np.testing.assert_array_equal(att['mask'], plain['mask'])
    with torch.no_grad():
        _, maps = neck(*seen[0], return_attention=True)
    raw = maps[0]['round1'][0]  # (N, L)
    grid = att['round1'].reshape(len(att['words']), -1).T
    np.testing.assert_allclose(grid, raw[:, :5].numpy(), atol=1e-6)
    assert not np.allclose(att['round1'], att['round2'])
    with pytest.raises(ValueError, match='level 3 does not exist'):
        collect_attention(inferencer, img, 'the red circle', level=3)
    figure = draw_attention_figure(att, str(tmp_path / 'a.png'))
    assert cv2.imread(str(tmp_path / 'a.png')).shape == figure.shape
    assert figure.shape[0] > 5 * 100  # a row per word


def test_trainable_only_checkpoint_loads_on_pretrained_encoders(tmp_path):
    import torch
    from mmengine.runner import save_checkpoint
    from transformers import CLIPConfig, CLIPModel

    from tests.tiny_models import TINY_CLIP
    CLIPModel(CLIPConfig(**TINY_CLIP)).save_pretrained(tmp_path / 'clip')
    cfg = Config.fromfile('configs/haris_synthetic.py')
    cfg.model = tiny_model_cfg(pretrained=str(tmp_path / 'clip'))
    cfg.model.backbone.pop('clip_config', None)
    cfg.dump(str(tmp_path / 'cfg.py'))
    trained = RefSegInferencer(cfg, device='cpu').model
    with torch.no_grad():
        for name, p in trained.named_parameters():
            if p.requires_grad:
                p.add_(0.01)
    save_checkpoint(dict(state_dict=trained.state_dict(), meta={}),
                    str(tmp_path / 'full.pth'))
    proc = subprocess.run(
        [sys.executable, 'tools/model_converters/extract_trainable.py',
         str(tmp_path / 'cfg.py'), str(tmp_path / 'full.pth'),
         str(tmp_path / 'small.pth')], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    small = torch.load(tmp_path / 'small.pth', weights_only=True)
    assert not any('clip' in k and 'lora_' not in k
                   for k in small['state_dict'])
    loaded = RefSegInferencer(cfg, str(tmp_path / 'small.pth'),
                              device='cpu').model
    for (n, a), b in zip(trained.state_dict().items(),
                         loaded.state_dict().values()):
        assert torch.equal(a, b), n


def test_one_image_many_sentences_is_encoded_once(inferencer):
    sizes = []
    hook = inferencer.model.backbone.clip.vision_model.embeddings \
        .register_forward_hook(lambda m, a, out: sizes.append(out.shape[0]))
    img = np.random.randint(0, 255, (50, 90, 3), np.uint8)
    other = np.random.randint(0, 255, (25, 45, 3), np.uint8)  # same ratio
    texts = [f'the {c} {s}' for c in ('red', 'blue', 'green')
             for s in ('circle', 'square', 'triangle', 'star')]
    try:
        results = inferencer(img, texts, batch_size=4)  # 12 > 4
        assert sizes == [1]
        sizes.clear()
        mixed = inferencer([img, other, img, other], texts[:4], batch_size=4)
        assert sizes == [2]
    finally:
        hook.remove()
    assert [r['text'] for r in results] == texts
    assert [r['text'] for r in mixed] == texts[:4]
    assert [r['mask'].shape for r in mixed] == [(50, 90), (25, 45)] * 2
    np.testing.assert_allclose(mixed[2]['prob'], results[2]['prob'],
                               atol=1e-5)
    assert inferencer.model.backbone.adapters_merged


def test_passes_keep_an_image_together():
    passes = RefSegInferencer.passes
    assert passes([[0, 2], [1], [3, 4, 5, 6, 7], [8]], 4) == [
        [0, 2, 1], [3, 4, 5, 6, 7], [8]]
    assert passes([[0], [1], [2]], 1) == [[0], [1], [2]]
    with pytest.raises(ValueError, match='batch_size'):
        passes([[0]], 0)
