"""``model.backbone.pretrained`` is a local folder or a hub id: a relative
folder that does not exist (``work_dirs/tiny_clip`` before pretraining)
is reported as a missing folder, offline, instead of being asked of the
hub as a repository id."""
import pytest
from transformers import CLIPConfig, CLIPModel

from projects.haris.models.backbones.adapted_clip_base import build_clip
from tests.tiny_models import TINY_CLIP


@pytest.fixture
def no_hub(monkeypatch):
    """Fail the test if anything asks the hub (or loads at all)."""
    asked = []

    def from_pretrained(name, *args, **kwargs):
        asked.append(name)
        raise OSError(f'{name} is not a local folder and the hub is '
                      'unreachable')

    monkeypatch.setattr(CLIPModel, 'from_pretrained', from_pretrained)
    return asked


@pytest.mark.parametrize('name', [
    'work_dirs/tiny_clip',  # first component exists
    './tiny_clip', 'work_dirs/../tiny_clip', 'a/b/tiny_clip'
])
def test_missing_relative_folder_is_named_without_the_hub(
        name, tmp_path, monkeypatch, no_hub):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'work_dirs').mkdir()
    with pytest.raises(FileNotFoundError) as err:
        build_clip(name, None)
    assert no_hub == []
    message = str(err.value)
    assert repr(name) in message
    assert str(tmp_path) in message  # where it was looked for
    assert 'tools/pretrain_clip.py' in message and 'save_pretrained' in \
        message


def test_absolute_missing_folder_is_named(tmp_path, no_hub):
    with pytest.raises(FileNotFoundError, match='nothing'):
        build_clip(str(tmp_path / 'nothing'), None)
    assert no_hub == []


def test_existing_relative_folder_loads_from_disk(tmp_path, monkeypatch):
    reference = CLIPModel(CLIPConfig(**TINY_CLIP))
    reference.save_pretrained(tmp_path / 'work_dirs' / 'tiny_clip')
    monkeypatch.chdir(tmp_path)
    clip = build_clip('work_dirs/tiny_clip', None)
    for key, value in reference.state_dict().items():
        assert (clip.state_dict()[key] == value).all(), key


def test_hub_id_goes_to_the_hub_and_its_failure_names_both(
        tmp_path, monkeypatch, no_hub):
    """No folder named like the id's first part here: the hub is asked,
    and its refusal also says that no such local folder exists."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OSError) as err:
        build_clip('openai/clip-vit-base-patch16', None)
    assert no_hub == ['openai/clip-vit-base-patch16']
    message = str(err.value)
    assert 'hub is unreachable' in message
    assert 'no local folder' in message
    assert 'model.backbone.pretrained' in message
