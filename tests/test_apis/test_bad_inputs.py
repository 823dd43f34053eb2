"""A catalogue of bad inputs through the real entry points: each gets
correct handling or one clear error naming the input."""
import json
import pickle
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmseg.registry import DATASETS
from projects.haris.utils import load_local_checkpoint
from tests.test_apis.test_inferencer import inferencer  # noqa: F401
from tests.tiny_models import tiny_model_cfg

PIPE = [dict(type='LoadImageFromFile'), dict(type='LoadReferringMask'),
        dict(type='PickExpression'),
        dict(type='TokenizeExpression', context_length=8)]


def generic(tmp_path, lines, raw=None):
    path = tmp_path / 'refs.jsonl'
    if raw is not None:
        path.write_bytes(raw)
    else:
        path.write_text('\n'.join(json.dumps(x) for x in lines))
    return DATASETS.build(dict(type='GenericReferringDataset',
                               data_root=str(tmp_path),
                               ann_file='refs.jsonl', pipeline=PIPE))


def image(tmp_path, name='a.jpg', shape=(20, 30, 3), dtype=np.uint8):
    cv2.imwrite(str(tmp_path / name), np.zeros(shape, dtype))
    return name


def test_missing_annotation_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='refs.jsonl not found'):
        DATASETS.build(dict(type='GenericReferringDataset',
                            data_root=str(tmp_path), ann_file='refs.jsonl'))


def test_missing_image_folder(tmp_path):
    ds = generic(tmp_path, [dict(image='nofolder/a.jpg', expression='x',
                                 mask=dict(polygons=[[0, 0, 5, 0, 5, 5]]))])
    with pytest.raises(FileNotFoundError, match='nofolder/a.jpg'):
        ds[0]


def test_corrupt_jpeg(tmp_path):
    (tmp_path / 'a.jpg').write_bytes(b'\xff\xd8\xff not really')
    ds = generic(tmp_path, [dict(image='a.jpg', expression='x',
                                 mask=dict(polygons=[[0, 0, 5, 0, 5, 5]]))])
    with pytest.raises(Exception, match='a.jpg'):
        ds[0]


def test_truncated_mask_png(tmp_path):
    image(tmp_path)
    cv2.imwrite(str(tmp_path / 'm.png'), np.ones((20, 30), np.uint8))
    data = (tmp_path / 'm.png').read_bytes()
    (tmp_path / 'm.png').write_bytes(data[:len(data) // 2])
    ds = generic(tmp_path, [dict(image='a.jpg', expression='x',
                                 mask='m.png')])
    with pytest.raises(FileNotFoundError, match='m.png is missing or '
                       'unreadable'):
        ds[0]


def test_mask_size_differs_from_image(tmp_path):
    image(tmp_path)
    cv2.imwrite(str(tmp_path / 'm.png'), np.ones((10, 10), np.uint8))
    ds = generic(tmp_path, [dict(image='a.jpg', expression='x',
                                 mask='m.png')])
    with pytest.raises(ValueError, match='10x10 but its image is 30x20'):
        ds[0]


def test_polygon_with_fewer_than_three_points(tmp_path):
    image(tmp_path)
    ds = generic(tmp_path, [dict(image='a.jpg', expression='x',
                                 mask=dict(polygons=[[1, 1, 5, 5]]))])
    with pytest.raises(ValueError, match='at least 3 points'):
        ds[0]


@pytest.mark.parametrize('text', ['', '   '])
def test_empty_expression_in_data(tmp_path, text):
    image(tmp_path)
    ds = generic(tmp_path, [dict(image='a.jpg', sentences=[text],
                                 mask=dict(polygons=[[0, 0, 5, 0, 5, 5]]))])
    with pytest.raises(ValueError, match='Empty expression'):
        ds[0]


def test_non_utf8_annotation(tmp_path):
    with pytest.raises(ValueError, match=r'refs.jsonl:1: not UTF-8'):
        generic(tmp_path, None, raw=b'{"image": "a.jpg", "expression": '
                b'"caf\xe9", "mask": "m.png"}\n')


def test_sentences_given_as_one_string(tmp_path):
    image(tmp_path)
    ds = generic(tmp_path, [dict(image='a.jpg', sentences='the red cup',
                                 mask=dict(polygons=[[0, 0, 5, 0, 5, 5]]))])
    assert ds[0]['sentences'] == ['the red cup']


def test_expression_longer_than_text_encoder(tmp_path):
    image(tmp_path)
    ds = generic(tmp_path, [dict(image='a.jpg', expression='word ' * 30,
                                 mask=dict(polygons=[[0, 0, 5, 0, 5, 5]]))])
    with pytest.warns(UserWarning, match='truncated to 8'):
        assert ds[0]['token_mask'].all()


@pytest.mark.parametrize('shape,dtype', [((20, 30), np.uint8),
                                         ((20, 30, 4), np.uint8),
                                         ((20, 30, 3), np.uint16)])
def test_grey_rgba_16bit_images_in_data(tmp_path, shape, dtype):
    name = image(tmp_path, 'a.png', shape, dtype)
    ds = generic(tmp_path, [dict(image=name, expression='x',
                                 mask=dict(polygons=[[0, 0, 5, 0, 5, 5]]))])
    sample = ds[0]
    assert sample['img'].shape == (20, 30, 3)
    assert sample['img'].dtype == np.uint8


def test_one_pixel_and_very_large_images(inferencer):  # noqa: F811
    assert inferencer(np.zeros((1, 1, 3), np.uint8), 'x')[0][
        'mask'].shape == (1, 1)
    big = np.zeros((3000, 4000, 3), np.uint8)
    assert inferencer(big, 'x')[0]['mask'].shape == (3000, 4000)


def test_refs_pickle_with_unknown_split(tmp_path):
    (tmp_path / 'refcoco').mkdir()
    with open(tmp_path / 'refcoco' / 'refs(unc).p', 'wb') as f:
        pickle.dump([dict(split='train', image_id=1, ann_id=1, ref_id=1,
                          sentences=[dict(sent='a')])], f)
    (tmp_path / 'refcoco' / 'instances.json').write_text(
        json.dumps(dict(images=[], annotations=[])))
    with pytest.raises(ValueError, match=r"'testC' is not in"):
        DATASETS.build(dict(type='RefCocoDataset', data_root=str(tmp_path),
                            ann_file='refcoco/refs(unc).p',
                            instances_file='refcoco/instances.json',
                            split='testC'))


def test_missing_clip_directory_offline(tmp_path, monkeypatch):
    import huggingface_hub

    from mmseg.registry import MODELS
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    # the library reads the variable at import; set what it reads
    monkeypatch.setattr(huggingface_hub.constants, 'HF_HUB_OFFLINE', True)
    cfg = tiny_model_cfg()
    cfg['backbone'].pop('clip_config')
    cfg['backbone']['pretrained'] = str(tmp_path / 'no-clip')
    with pytest.raises(FileNotFoundError, match='no-clip.*not found'):
        MODELS.build(cfg)
    cfg['backbone']['pretrained'] = 'someone/not-cached-model'
    with pytest.raises(OSError, match='local directory'):
        MODELS.build(cfg)


def test_truncated_checkpoint(tmp_path):
    torch.save(dict(state_dict=dict(w=torch.ones(1000))), tmp_path / 'c.pth')
    data = (tmp_path / 'c.pth').read_bytes()
    (tmp_path / 'c.pth').write_bytes(data[:len(data) // 2])
    with pytest.raises(RuntimeError, match='truncated'):
        load_local_checkpoint(str(tmp_path / 'c.pth'))


def test_tools_name_missing_config_and_checkpoint(tmp_path):
    for args in (['tools/train.py', 'configs/nope.py'],
                 ['tools/test.py', 'configs/haris_synthetic.py',
                  str(tmp_path / 'nope.pth')]):
        proc = subprocess.run([sys.executable] + args, capture_output=True,
                              text=True)
        assert proc.returncode != 0 and 'not found' in proc.stderr


def test_checkpoint_of_another_model_in_tools_test(tmp_path):
    from mmengine.runner import save_checkpoint
    save_checkpoint(dict(state_dict=dict(w=torch.ones(2))),
                    str(tmp_path / 'other.pth'))
    proc = subprocess.run(
        [sys.executable, 'tools/test.py', 'configs/haris_synthetic.py',
         str(tmp_path / 'other.pth'), '--work-dir', str(tmp_path / 'w'),
         '--cfg-options', f'test_dataloader.dataset.data_root={tmp_path}',
         'test_dataloader.dataset.num_samples=2',
         'test_dataloader.num_workers=0',
         'test_dataloader.persistent_workers=False'],
        capture_output=True, text=True)
    assert proc.returncode != 0
    assert 'missing keys' in proc.stderr or 'unexpected key' in proc.stderr


def test_demo_cli_bad_image(tmp_path):
    """A valid config and checkpoint, so the image is what fails: one
    line naming the image and why, and no traceback."""
    from mmengine.runner import save_checkpoint

    from projects.haris.apis import RefSegInferencer
    cfg = Config.fromfile('configs/haris_synthetic.py')
    cfg.model = tiny_model_cfg()
    cfg.dump(str(tmp_path / 'c.py'))
    model = RefSegInferencer(cfg, device='cpu').model
    save_checkpoint(model.state_dict(), str(tmp_path / 'k.pth'))
    cv2.imwrite(str(tmp_path / 'good.png'), np.zeros((20, 30, 3), np.uint8))
    (tmp_path / 'x.png').write_bytes(b'garbage')
    args = ['a', '--config', str(tmp_path / 'c.py'), '--checkpoint',
            str(tmp_path / 'k.pth'), '--out', str(tmp_path / 'o.png')]
    good = subprocess.run(
        [sys.executable, 'demo/image_demo.py', str(tmp_path / 'good.png')] +
        args, capture_output=True, text=True)
    assert good.returncode == 0, good.stderr[-2000:]  # the checkpoint loads
    proc = subprocess.run(
        [sys.executable, 'demo/image_demo.py', str(tmp_path / 'x.png')] +
        args, capture_output=True, text=True)
    assert proc.returncode != 0
    assert 'x.png' in proc.stderr
    assert 'could not be decoded' in proc.stderr
    assert 'Traceback' not in proc.stderr + proc.stdout
    assert 'k.pth' not in proc.stderr
