"""tools/test.py refuses test-time augmentation (mmseg's SegTTAModel is
wrong for referring segmentation) with a message, before it builds or
loads anything."""
import importlib.util
import os.path as osp
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'haris_synthetic.py')


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'haris_test_tool', osp.join(ROOT, 'tools', 'test.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('kind', ['flag', 'tta_model', 'model'])
def test_tta_is_refused_with_a_reason(tmp_path, monkeypatch, kind):
    # an empty file: the refusal comes before any checkpoint is read
    checkpoint = tmp_path / 'never_read.pth'
    checkpoint.write_bytes(b'')
    config, extra = CONFIG, []
    if kind == 'flag':
        extra = ['--tta']
    elif kind == 'tta_model':
        # mmseg's TTA model as its configs set it
        config = str(tmp_path / 'tta.py')
        (tmp_path / 'tta.py').write_text(
            f'_base_ = [{CONFIG!r}]\n'
            "tta_model = dict(_delete_=True, type='SegTTAModel')\n")
    else:
        # the model swapped for its TTA wrapper, as mmseg's --tta does
        extra = ['--cfg-options', 'model.type=SegTTAModel']
    monkeypatch.setenv('LOCAL_RANK', '0')
    monkeypatch.setattr(sys, 'argv', [
        'tools/test.py', config, str(checkpoint), '--work-dir',
        str(tmp_path / 'work')] + extra)
    with pytest.raises(SystemExit) as exit_info:
        load_tool().main()
    message = str(exit_info.value.code)
    assert 'test-time augmentation' in message
    assert 'SegTTAModel' in message and 'flip' in message
    assert not (tmp_path / 'work').exists()  # nothing was built
