"""Every tool that takes a config and a checkpoint takes ``--model FOLDER``
instead, with the same outcome: each runs once in-process on a tiny model
folder and is compared with the same tool (or model) on the config and
checkpoint the folder came from."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from projects.haris.apis import RefSegInferencer
from tests.e2e_utils import assert_nontrivial, latest_metrics
from tests.test_apis.tiny_model_folder import (TEXTS, load_tool,
                                               make_model_folder, nontrivial)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    tiny = make_model_folder(tmp_path_factory.mktemp('option'))
    image = str(tmp_path_factory.getbasetemp() / 'option_image.png')
    cv2.imwrite(image, tiny['image'])
    return dict(tiny, image_file=image)


def pair(tiny):
    return ['--config', tiny['config'], '--checkpoint', tiny['checkpoint']]


def test_image_demo(tiny, tmp_path, capsys):
    tool = load_tool('demo/image_demo.py')
    for name, source in (('folder', ['--model', tiny['folder']]),
                         ('pair', pair(tiny))):
        tool.main([tiny['image_file'], *TEXTS, '--device', 'cpu', '--out',
                   str(tmp_path / f'{name}.png')] + source)
    log = capsys.readouterr().out
    assert log.count('pixels') == 4
    for suffix in ('', '_1'):
        a = cv2.imread(str(tmp_path / f'folder{suffix}.png'))
        b = cv2.imread(str(tmp_path / f'pair{suffix}.png'))
        assert a is not None and np.array_equal(a, b)
    with pytest.raises(SystemExit):  # both ways at once
        tool.main([tiny['image_file'], 'x', '--model', tiny['folder']] +
                  pair(tiny))


def test_visualize_attention(tiny, tmp_path):
    tool = load_tool('tools/analysis/visualize_attention.py')
    for name, source in (('folder', ['--model', tiny['folder']]),
                         ('pair', pair(tiny))):
        tool.main([tiny['image_file'], TEXTS[0], '--device', 'cpu', '--out',
                   str(tmp_path / f'{name}.png')] + source)
    a = cv2.imread(str(tmp_path / 'folder.png'))
    assert a is not None and a.std() > 0
    assert np.array_equal(a, cv2.imread(str(tmp_path / 'pair.png')))


def test_web_demo_serves_the_folders_model(tiny, monkeypatch):
    tool = load_tool('demo/web_demo.py')
    served = {}
    monkeypatch.setattr(tool, 'import_gradio', lambda: None)
    monkeypatch.setattr(tool, 'build_app',
                        lambda inferencer, max_side: served.update(
                            inferencer=inferencer) or 'app')
    monkeypatch.setattr(tool, 'launch', lambda app, *a, **k: None)
    tool.main(['--model', tiny['folder'], '--device', 'cpu'])
    got = served['inferencer'](tiny['image'], TEXTS)
    want = RefSegInferencer(tiny['config'], tiny['checkpoint'],
                            device='cpu')(tiny['image'], TEXTS)
    assert nontrivial(want)
    for a, b in zip(got, want):
        assert np.array_equal(a['prob'], b['prob'])


def test_export_onnx_exports_the_folders_model(tiny, tmp_path,
                                               monkeypatch):
    """The export itself (minutes) and its check are test_onnx_export's;
    here they are stand-ins that record what main() would export."""
    onnx = pytest.importorskip('onnx')
    tool = load_tool('tools/deployment/export_onnx.py')
    seen = {}

    def export(model, out, size, opset, length):
        seen.update(model=model, size=tuple(size), length=length)
        return ['mask_logits']

    monkeypatch.setattr(tool, 'export_onnx', export)
    monkeypatch.setattr(tool, 'compare', lambda *a: {})
    monkeypatch.setattr(onnx.checker, 'check_model', lambda *a, **k: None)
    tool.main(['--model', tiny['folder'], '--out',
               str(tmp_path / 'x.onnx')])
    assert seen['size'] == (64, 64) and seen['length'] == 16
    want = tool.load_for_export(tiny['config'], tiny['checkpoint'])
    got = seen['model'].state_dict()
    assert got.keys() == want.state_dict().keys()
    for key, value in want.state_dict().items():
        assert torch.equal(got[key], value), key


# two runners in one process: mmengine warns that the second reuses the
# first's visualizer instance (same name, other arguments)
@pytest.mark.filterwarnings('ignore:.*instance named of visualizer')
def test_tools_test_evaluates_the_folder_and_the_card_shows_it(
        tiny, tmp_path):
    """tools/test.py --model (data root given with --cfg-options) scores
    as with the config and checkpoint; its JSON then fills the card."""
    tool = load_tool('tools/test.py')
    options = ['--cfg-options'] + [
        f'test_dataloader.{k}' for k in (
            f'dataset.data_root={tmp_path / "data"}',
            'dataset.num_samples=5', 'batch_size=4', 'num_workers=0',
            'persistent_workers=False')
    ]
    runs = {}
    for name, source in (('folder', ['--model', tiny['folder']]),
                         ('pair', [tiny['config'], tiny['checkpoint']])):
        work = str(tmp_path / name)
        tool.main(source + ['--work-dir', work] + options)
        runs[name] = latest_metrics(work)
    folder, pair_run = runs['folder'], runs['pair']
    assert folder['model'] == tiny['folder'] and 'config' not in folder
    assert folder['threshold'] == 0.5 and folder['eval_size'] is None
    for key in ('mIoU', 'oIoU', 'Prec@0.5'):
        assert folder[key] == pair_run[key], key
    preds = RefSegInferencer.from_pretrained(tiny['folder'], 'cpu')(
        tiny['image'], TEXTS)
    assert_nontrivial([p['mask'] for p in preds], folder['mIoU'])
    metrics = str(tmp_path / 'test.json')
    with open(metrics, 'w') as f:
        json.dump(folder, f)
    out = str(tmp_path / 'carded')
    load_tool('tools/model_converters/save_pretrained.py').main(
        [tiny['config'], tiny['checkpoint'], out, '--metrics', metrics])
    card = open(osp.join(out, 'README.md')).read()
    summary = str(tmp_path / 'summary.json')
    with open(summary, 'w') as f:
        json.dump({'test': folder}, f)
    with pytest.raises(SystemExit, match='summary.json is not a'):
        load_tool('tools/model_converters/save_pretrained.py').main(
            [tiny['config'], tiny['checkpoint'], out, '--metrics', summary])
    assert (f'| test | mIoU | {folder["mIoU"]:.2f} | sigmoid > 0.5 | '
            f'original image size | {folder["num_sentences"]} |') in card
