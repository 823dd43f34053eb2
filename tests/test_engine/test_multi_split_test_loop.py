"""MultiSplitTestLoop's per-split configs (the loop itself runs in
tests/test_tools/test_multi_split.py through tools/test.py)."""
import pytest

from projects.haris.engine import MultiSplitTestLoop
from projects.haris.engine.multi_split_test_loop import (
    split_dataloader_cfg, split_evaluator_cfg)


def test_split_is_set_on_a_copy():
    dataloader = dict(batch_size=2, dataset=dict(type='X', split='val'))
    assert split_dataloader_cfg(dataloader, 'testA') == dict(
        batch_size=2, dataset=dict(type='X', split='testA'))
    assert dataloader['dataset']['split'] == 'val'
    with pytest.raises(ValueError, match='PhraseCutDataset has none'):
        split_dataloader_cfg(dict(dataset=dict(type='PhraseCutDataset')),
                             'val')


@pytest.mark.parametrize('wrap', [
    lambda m: m,
    lambda m: [m, dict(type='Other')],
    lambda m: dict(type='Evaluator', metrics=[m]),
], ids=['metric', 'list', 'evaluator'])
def test_output_file_goes_to_a_folder_per_split(wrap):
    evaluator = wrap(dict(type='RefSegMetric', output_file='out/r.jsonl'))
    per_split = split_evaluator_cfg(evaluator, 'testB')
    assert per_split == wrap(
        dict(type='RefSegMetric', output_file='out/testB/r.jsonl'))
    assert evaluator == wrap(
        dict(type='RefSegMetric', output_file='out/r.jsonl'))


def test_splits_must_be_a_list_of_names():
    for splits in ('val', []):
        with pytest.raises(ValueError, match='list of split names'):
            MultiSplitTestLoop(None, dict(dataset=dict(split='val')),
                               dict(type='RefSegMetric'), splits)
