"""A phone's portrait photo (stored sideways, EXIF Orientation 6) through
every entry point: each one shows and segments it upright, as viewers do.

The model is ``BrightPixelSegmentor`` (its mask is the image's bright
pixels), so the mask must land on the photo's bright object in the
upright frame. The upright reference is OpenCV's ``IMREAD_COLOR``, which
applies the orientation itself."""
import json
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image, ImageOps

from projects.haris.apis import RefSegInferencer
from projects.haris.datasets import read_image
from tests.e2e_utils import ROOT
from tests.test_apis.bright_segmentor import bright_config, bright_pixels
from tests.tiny_models import tiny_model_cfg

STORED = (96, 128)  # (H, W) of the pixels in the file
UPRIGHT = (128, 96)  # as every viewer shows it


def save_with_orientation(pixels: np.ndarray, path, orientation: int,
                          **kwargs) -> None:
    """``pixels`` (H, W, 3) RGB saved with an EXIF orientation tag."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(path, exif=exif, **kwargs)


@pytest.fixture(scope='module')
def photo(tmp_path_factory):
    """The photo's path, its upright pixels (BGR) and where its bright
    object is in them."""
    stored = np.full(STORED + (3, ), 40, np.uint8)
    stored[8:40, 8:64] = 250  # top-left as stored: top-right upright
    path = str(tmp_path_factory.mktemp('photo') / 'portrait.jpg')
    save_with_orientation(stored, path, 6, quality=95)
    upright = cv2.imread(path, cv2.IMREAD_COLOR)
    assert upright.shape[:2] == UPRIGHT
    obj = bright_pixels(upright)
    assert obj[:64, 48:].sum() == obj.sum() > 1000
    return dict(path=path, upright=upright, object=obj)


def iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def bright_cfg():
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'haris_synthetic.py'))
    cfg.model = bright_config(tiny_model_cfg())
    cfg.custom_imports = dict(
        imports=['projects.haris', 'tests.test_apis.bright_segmentor'],
        allow_failed_imports=False)
    return cfg


@pytest.fixture(scope='module')
def inferencer():
    return RefSegInferencer(bright_cfg(), device='cpu')


@pytest.fixture(scope='module')
def model_files(inferencer, tmp_path_factory):
    """The bright model as a config file and a checkpoint, for the CLIs."""
    from mmengine.runner import save_checkpoint
    folder = tmp_path_factory.mktemp('model')
    cfg = bright_cfg()
    cfg.dump(str(folder / 'bright.py'))
    model = RefSegInferencer(cfg, device='cpu',
                             merge_adapters=False).model
    save_checkpoint(model.state_dict(), str(folder / 'bright.pth'))
    return str(folder / 'bright.py'), str(folder / 'bright.pth')


def test_every_orientation_reads_as_viewers_show_it(tmp_path):
    rng = np.random.default_rng(0)
    stored = rng.integers(0, 255, (5, 7, 3), np.uint8)
    for orientation in range(1, 9):
        path = str(tmp_path / f'o{orientation}.png')
        save_with_orientation(stored, path, orientation)
        with Image.open(path) as im:
            viewer = np.asarray(ImageOps.exif_transpose(im))[..., ::-1]
            np.testing.assert_array_equal(read_image(im), viewer)
        np.testing.assert_array_equal(read_image(path), viewer)
        with open(path, 'rb') as f:
            np.testing.assert_array_equal(read_image(f.read()), viewer)


def test_jpeg_reads_as_opencv_shows_it(photo):
    np.testing.assert_array_equal(read_image(photo['path']),
                                  photo['upright'])
    # an array is taken as upright already: never turned a second time
    np.testing.assert_array_equal(read_image(photo['upright']),
                                  photo['upright'])


def test_inferencer_segments_the_upright_photo(inferencer, photo):
    with Image.open(photo['path']) as im:
        inputs = [photo['path'], im.copy(), photo['upright']]
    for image in inputs:
        mask = inferencer(image, 'the bright block')[0]['mask']
        assert mask.shape == UPRIGHT
        assert iou(mask, photo['object']) > 0.9


def changed_pixels(drawn, upright):
    """Where an overlay's image part (its last rows) differs from the
    upright photo."""
    part = drawn[-upright.shape[0]:]
    assert part.shape == upright.shape
    return np.abs(part.astype(int) - upright.astype(int)).max(axis=2) > 40


def test_image_demo_draws_on_the_upright_photo(model_files, photo,
                                               tmp_path):
    config, ckpt = model_files
    out = str(tmp_path / 'o.png')
    proc = subprocess.run(
        [sys.executable, 'demo/image_demo.py', photo['path'],
         'the bright block', '--config', config, '--checkpoint', ckpt,
         '--out', out], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    drawn = cv2.imread(out)
    assert drawn.shape[1] == UPRIGHT[1]
    tinted = changed_pixels(drawn, photo['upright'])
    near = cv2.dilate(photo['object'].astype(np.uint8), np.ones((5, 5)))
    assert tinted[photo['object']].mean() > 0.9
    assert not tinted[near == 0].any()


def test_attention_figure_shows_the_upright_photo(model_files, photo,
                                                  tmp_path):
    config, ckpt = model_files
    out = str(tmp_path / 'att.png')
    proc = subprocess.run(
        [sys.executable, 'tools/analysis/visualize_attention.py',
         photo['path'], 'bright', '--config', config, '--checkpoint', ckpt,
         '--out', out], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    figure = cv2.imread(out)
    # 22-pixel header, then a row per token (3) of 160-pixel cells: the
    # first cell is the photo scaled to 120x160 with the mask drawn
    assert figure.shape[0] == 22 + 3 * 160
    cell = figure[22:182, 90:210]
    base = cv2.resize(photo['upright'], (120, 160))
    tinted = np.abs(cell.astype(int) - base.astype(int)).max(axis=2) > 40
    obj = cv2.resize(photo['object'].astype(np.uint8), (120, 160),
                     interpolation=cv2.INTER_NEAREST).astype(bool)
    near = cv2.dilate(obj.astype(np.uint8), np.ones((7, 7)))
    assert tinted[obj].mean() > 0.9 and not tinted[near == 0].any()


def test_web_page_segments_the_upright_photo(inferencer, photo, tmp_path):
    pytest.importorskip('gradio')
    gradio_client = pytest.importorskip('gradio_client')
    from demo.web_demo import build_app, launch
    from tests.e2e_utils import free_port
    deep = np.linspace(0, 65535, 60 * 80).astype(np.uint16).reshape(60, 80)
    deep[10:30, 20:50] = 65535
    cv2.imwrite(str(tmp_path / 'deep.png'), deep)
    app = build_app(inferencer, examples=[])
    port = int(free_port())
    launch(app, '127.0.0.1', port, block=False)
    try:
        client = gradio_client.Client(f'http://127.0.0.1:{port}/',
                                      verbose=False)
        masks = []
        for path in (photo['path'], str(tmp_path / 'deep.png')):
            overlay, _, files, _, _ = client.predict(
                gradio_client.handle_file(path), 'the bright block', 0.5,
                False, api_name='/segment')
            masks.append(cv2.imread(files[0], cv2.IMREAD_UNCHANGED) > 0)
            np.testing.assert_array_equal(
                masks[-1], inferencer(path, 'the bright block')[0]['mask'])
            # the page shows the picture the model saw, upright
            np.testing.assert_array_equal(cv2.imread(overlay['image']),
                                          read_image(path))
    finally:
        app.close()
    assert masks[0].shape == UPRIGHT and iou(masks[0], photo['object']) > .9
    # 16-bit: the page takes it as the inferencer does (not clipped white)
    assert masks[1].shape == (60, 80) and 0 < masks[1].mean() < 0.6


def bright_onnx(path: str) -> None:
    """An ONNX model with the runner's inputs whose mask logits are
    ``BrightPixelSegmentor``'s: one 1x1 convolution of the image."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from tests.test_apis.bright_segmentor import BIAS, WEIGHT
    weight = np.full((1, 3, 1, 1), WEIGHT, np.float32)
    graph = helper.make_graph(
        [helper.make_node('Conv', ['image', 'w', 'b'], ['mask_logits'])],
        'bright', [
            helper.make_tensor_value_info('image', TensorProto.FLOAT,
                                          ['B', 3, 'H', 'W']),
            helper.make_tensor_value_info('token_ids', TensorProto.INT64,
                                          ['B', 'L']),
            helper.make_tensor_value_info('token_mask', TensorProto.BOOL,
                                          ['B', 'L'])
        ], [
            helper.make_tensor_value_info('mask_logits', TensorProto.FLOAT,
                                          ['B', 1, 'H', 'W'])
        ], [
            numpy_helper.from_array(weight, 'w'),
            numpy_helper.from_array(np.array([BIAS], np.float32), 'b')
        ])
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    onnx.save(model, path)


def test_onnx_runner_segments_the_upright_photo(model_files, photo,
                                                tmp_path):
    """The runner's own pipeline and drawing, on a hand-written ONNX
    model (its network is the bright-pixel rule)."""
    pytest.importorskip('onnx')
    pytest.importorskip('onnxruntime')
    from tools.deployment.onnx_inference import OnnxRefSegInferencer
    config, _ = model_files
    onnx_file = str(tmp_path / 'bright.onnx')
    bright_onnx(onnx_file)
    runner = OnnxRefSegInferencer(config, onnx_file)
    result = runner(photo['path'], 'the bright block')[0]
    assert result['mask'].shape == UPRIGHT
    assert iou(result['mask'], photo['object']) > 0.9
    # its command line draws with the inferencer's save_overlays
    tinted = changed_pixels(runner.overlay(photo['path'], result),
                            photo['upright'])
    assert tinted[photo['object']].mean() > 0.9


def shipped_pipelines():
    """(config, split, pipeline) of every dataloader of every config."""
    import glob
    for path in sorted(glob.glob(osp.join(ROOT, 'configs', '*.py'))):
        cfg = Config.fromfile(path)
        for split in ('train', 'val', 'test'):
            loader = cfg.get(f'{split}_dataloader')
            if loader:
                yield osp.basename(path), split, loader.dataset.pipeline


def test_every_shipped_dataset_loads_images_upright():
    seen = 0
    for name, split, pipeline in shipped_pipelines():
        assert pipeline[0]['type'] == 'LoadReferringImage', (name, split)
        seen += 1
    assert seen >= 3 * 10


def test_generic_dataset_masks_line_up_with_the_upright_photo(
        photo, tmp_path):
    from mmseg.registry import DATASETS
    pipeline = Config.fromfile(
        osp.join(ROOT, 'configs', 'haris_refcoco.py')).test_pipeline
    load_image = [s for s in pipeline if s['type'] == 'LoadReferringImage']
    pipeline = load_image + [dict(type='LoadReferringMask')]
    obj = photo['object']
    cv2.imwrite(str(tmp_path / 'mask.png'), obj.astype(np.uint8) * 255)
    ys, xs = np.nonzero(obj)
    box = [float(xs.min()), float(ys.min()), float(xs.max() + 1),
           float(ys.min()), float(xs.max() + 1), float(ys.max() + 1),
           float(xs.min()), float(ys.max() + 1)]
    lines = [dict(image=photo['path'], expression='the bright block',
                  mask='mask.png'),
             dict(image=photo['path'], expression='the bright block',
                  mask=dict(polygons=[box]))]
    cv2.imwrite(str(tmp_path / 'stored.png'),
                np.zeros(STORED, np.uint8))
    lines.append(dict(image=photo['path'], expression='x',
                      mask='stored.png'))
    (tmp_path / 'refs.jsonl').write_text('\n'.join(map(json.dumps, lines)))
    dataset = DATASETS.build(
        dict(type='GenericReferringDataset', data_root=str(tmp_path),
             ann_file='refs.jsonl', pipeline=pipeline, test_mode=True))
    for i in (0, 1):
        sample = dataset[i]
        np.testing.assert_array_equal(sample['img'], read_image(
            photo['path']))
        assert iou(sample['gt_seg_map'] > 0, obj) > 0.95
    with pytest.raises(ValueError, match='upright'):
        dataset[2]
