"""A trained model as a folder or hub id: written by save_pretrained.py,
loaded by RefSegInferencer.from_pretrained with the same masks as from its
config and checkpoint, without unpickling or running anything from the
folder; the hub cache offline; the base encoders' SHA-256; publishing."""
import os
import os.path as osp
import pickle
import shutil

import numpy as np
import pytest
import torch
import yaml
from mmengine.config import Config
from safetensors import safe_open

from projects.haris.apis import RefSegInferencer
from projects.haris.apis.model_card import model_card
from projects.haris.apis.model_folder import folder_config
from projects.haris.utils.literal_config import read_literal_config
from tests.e2e_utils import ROOT
from tests.test_apis.tiny_model_folder import (TEXTS, load_tool,
                                               make_model_folder, nontrivial,
                                               save_clip)

SAVE = 'tools/model_converters/save_pretrained.py'


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    return make_model_folder(tmp_path_factory.mktemp('folder'))


@pytest.fixture(scope='module')
def reference(tiny):
    """Results of the config and checkpoint the folder came from."""
    inferencer = RefSegInferencer(tiny['config'], tiny['checkpoint'],
                                  device='cpu')
    results = inferencer(tiny['image'], TEXTS)
    assert nontrivial(results)
    return results


def assert_same_results(results, reference):
    assert nontrivial(results)
    for got, want in zip(results, reference):
        assert np.array_equal(got['mask'], want['mask'])
        assert np.array_equal(got['prob'], want['prob'])


def refuse(*args, **kwargs):
    raise AssertionError('a model folder was unpickled')


def test_round_trip_gives_the_same_masks_without_unpickling(
        tiny, reference, monkeypatch):
    for module, name in ((torch, 'load'), (pickle, 'load'),
                         (pickle, 'loads'), (pickle, 'Unpickler')):
        monkeypatch.setattr(module, name, refuse)
    inferencer = RefSegInferencer.from_pretrained(tiny['folder'], 'cpu')
    assert_same_results(inferencer(tiny['image'], TEXTS), reference)


def test_folder_holds_what_trains_and_a_config_read_as_data(tiny):
    folder = tiny['folder']
    assert sorted(os.listdir(folder)) == [
        'README.md', 'config.py', 'model.safetensors']
    with safe_open(osp.join(folder, 'model.safetensors'), 'pt') as f:
        keys, meta = list(f.keys()), f.metadata()
    frozen = [k for k in keys
              if k.startswith('backbone.clip.') and 'lora_' not in k]
    assert frozen == [] and any('lora_' in k for k in keys)
    assert any(k.startswith('neck.') for k in keys)
    assert any(k.startswith('decode_head.') for k in keys)
    # the checkpoint hook's record of the frozen encoders, carried over
    assert yaml.safe_load(meta['frozen_weights']) == tiny['frozen']
    text = open(osp.join(folder, 'config.py')).read()
    assert '_base_' not in text and 'train_dataloader' not in text
    # read as data, it is what mmengine gets by running it
    assert read_literal_config(osp.join(folder, 'config.py')).to_dict() == \
        Config.fromfile(osp.join(folder, 'config.py')).to_dict()


def test_config_of_a_folder_is_never_run(tiny, tmp_path):
    folder = str(tmp_path / 'evil')
    shutil.copytree(tiny['folder'], folder)
    marker = tmp_path / 'ran'
    with open(osp.join(folder, 'config.py'), 'a') as f:
        f.write(f'\nx = open({str(marker)!r}, "w")\n')
    with pytest.raises(ValueError, match=r'config.py line \d+: .*open'):
        RefSegInferencer.from_pretrained(folder, 'cpu')
    assert not marker.exists()


def test_a_folder_imports_only_openmmlab_and_haris_modules(
        tiny, tmp_path, monkeypatch):
    """custom_imports naming another installed module is refused before
    it is imported."""
    (tmp_path / 'side_effect.py').write_text(
        f'open({str(tmp_path / "imported")!r}, "w")\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    folder = str(tmp_path / 'importing')
    shutil.copytree(tiny['folder'], folder)
    with open(osp.join(folder, 'config.py'), 'a') as f:
        f.write("\ncustom_imports = dict(imports=['projects.haris', "
                "'side_effect'])\n")
    with pytest.raises(ValueError, match="import 'side_effect'"):
        RefSegInferencer.from_pretrained(folder, 'cpu')
    assert not (tmp_path / 'imported').exists()


def test_hub_id_from_the_cache_offline(tiny, reference, tmp_path,
                                       monkeypatch):
    """A cache laid out as huggingface_hub lays it out, HF_HUB_OFFLINE=1:
    the id resolves without network; an id not in the cache is named."""
    import huggingface_hub.constants as hub
    cache = tmp_path / 'hub'
    revision = 'a' * 40
    repo = cache / 'models--owner--tiny-haris'
    shutil.copytree(tiny['folder'], repo / 'snapshots' / revision)
    (repo / 'refs').mkdir()
    (repo / 'refs' / 'main').write_text(revision)
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    monkeypatch.setenv('HF_HUB_CACHE', str(cache))
    # huggingface_hub reads both variables once, when it is imported
    monkeypatch.setattr(hub, 'HF_HUB_OFFLINE', True)
    monkeypatch.setattr(hub, 'HF_HUB_CACHE', str(cache))
    inferencer = RefSegInferencer.from_pretrained('owner/tiny-haris', 'cpu')
    assert_same_results(inferencer(tiny['image'], TEXTS), reference)
    with pytest.raises(FileNotFoundError,
                       match=r'owner/other .*HF_HUB_OFFLINE=1'):
        RefSegInferencer.from_pretrained('owner/other', 'cpu')


def test_other_base_encoders_are_refused_naming_both(tiny, tmp_path):
    other = save_clip(tmp_path / 'other_clip', seed=5)
    with pytest.raises(ValueError) as err:
        RefSegInferencer.from_pretrained(tiny['folder'], 'cpu',
                                         base_model=other)
    message = str(err.value)
    assert tiny['clip'] in message and other in message
    assert tiny['frozen']['sha256'] in message
    # a copy of the same weights is accepted
    same = str(tmp_path / 'same_clip')
    shutil.copytree(tiny['clip'], same)
    RefSegInferencer.from_pretrained(tiny['folder'], 'cpu', base_model=same)


def test_missing_folder_or_file_is_named(tiny, tmp_path):
    with pytest.raises(FileNotFoundError, match='nothere.*save_pretrained'):
        RefSegInferencer.from_pretrained(str(tmp_path / 'nothere'))
    folder = str(tmp_path / 'partial')
    shutil.copytree(tiny['folder'], folder)
    os.remove(osp.join(folder, 'model.safetensors'))
    with pytest.raises(FileNotFoundError, match='no model.safetensors'):
        RefSegInferencer.from_pretrained(folder)


def test_push_to_hub_dry_run_lists_and_upload_calls_upload_folder(
        tiny, tmp_path, monkeypatch, capsys):
    import huggingface_hub
    calls = []

    class Api:

        def create_repo(self, repo_id, **kwargs):
            calls.append(('create_repo', repo_id))

        def upload_folder(self, **kwargs):
            calls.append(('upload_folder', kwargs))
            return 'commit'

    monkeypatch.setattr(huggingface_hub, 'HfApi', Api)
    tool = load_tool(SAVE)
    out = str(tmp_path / 'pushed')
    args = [tiny['config'], tiny['checkpoint'], out, '--push-to-hub',
            'owner/tiny-haris']
    tool.main(args + ['--dry-run'])
    log, err = capsys.readouterr()
    assert calls == []
    # the tiny model's encoders are a local folder: others could not load
    assert f'encoders load from {tiny["clip"]}' in err
    for name in ('config.py', 'model.safetensors', 'README.md'):
        size = osp.getsize(osp.join(out, name))
        assert f'  {name} ({size:,} bytes)' in log
    assert "from_pretrained('owner/tiny-haris')" in open(
        osp.join(out, 'README.md')).read()
    tool.main(args)
    assert calls[0] == ('create_repo', 'owner/tiny-haris')
    assert calls[1][0] == 'upload_folder'
    assert calls[1][1]['repo_id'] == 'owner/tiny-haris'
    assert calls[1][1]['folder_path'] == out
    with pytest.raises(SystemExit, match='--push-to-hub REPO_ID'):
        tool.main([tiny['config'], tiny['checkpoint'], out, '--dry-run'])


def card_metadata(card: str) -> dict:
    assert card.startswith('---\n')
    return yaml.safe_load(card.split('---\n')[1])


def test_card_names_base_model_data_and_each_numbers_rule():
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'haris_refcoco.py'))
    result = {
        'mIoU': 61.234, 'oIoU': 58.5, 'Prec@0.5': 70.0, 'mIoU@0.35': 60.0,
        'Prec@0.5@0.35': 69.0, 'split': 'val', 'num_sentences': 10834,
        'config': 'configs/haris_refcoco.py', 'checkpoint': 'x.pth',
        'threshold': 0.5, 'eval_size': [480, 480]
    }
    card = model_card(folder_config(cfg), cfg, 'configs/haris_refcoco.py',
                      [result], 'owner/haris-refcoco')
    meta = card_metadata(card)
    assert meta['base_model'] == 'openai/clip-vit-base-patch16'
    assert meta['datasets'] == ['refcoco']
    assert 'license' in meta
    names = {
        m['type']: (m['value'], m['name'])
        for r in meta['model-index'][0]['results'] for m in r['metrics']
    }
    size = '480x480 (nearest-neighbour resize)'
    assert names == {
        'mIoU': (61.23, f'mIoU (sigmoid > 0.5, {size})'),
        'oIoU': (58.5, f'oIoU (sigmoid > 0.5, {size})'),
        'Prec@0.5': (70.0, f'Prec@0.5 (sigmoid > 0.5, {size})'),
        'mIoU@0.35': (60.0, f'mIoU@0.35 (sigmoid > 0.35, {size})'),
        'Prec@0.5@0.35': (69.0, f'Prec@0.5@0.35 (sigmoid > 0.35, {size})'),
    }
    assert f'| val | mIoU@0.35 | 60.00 | sigmoid > 0.35 | {size} | 10834 |' \
        in card
    assert "RefSegInferencer.from_pretrained('owner/haris-refcoco')" in card
    assert 'configs/haris_refcoco.py' in card
