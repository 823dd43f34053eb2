"""Sentences longer than the text context: one line per dataset, no
warning per sentence."""
import json
import pickle
import warnings

import pytest
from mmengine.logging import MMLogger

from mmseg.registry import DATASETS
from projects.haris.datasets.transforms import TokenizeExpression

# Every word below is one CLIP BPE token, so a sentence of n words has
# n + 2 tokens (start and end); at context length 6, 4 words fit.
SHORT = 'the red box left'  # 6 tokens
LONG = 'the red box on the left'  # 8 tokens -> truncated


@pytest.fixture
def gref_root(tmp_path):
    (tmp_path / 'refcocog').mkdir()
    instances = dict(
        images=[dict(id=1, file_name='img1.jpg', height=8, width=8)],
        annotations=[
            dict(id=10, image_id=1, segmentation=[[0, 0, 4, 0, 4, 4]])
        ])
    refs = [
        dict(ref_id=0, image_id=1, ann_id=10, split='val',
             sentences=[dict(sent=SHORT), dict(sent=LONG)]),
        # the same long sentence again counts again
        dict(ref_id=1, image_id=1, ann_id=10, split='val',
             sentences=[dict(sent=LONG), dict(sent='box')]),
        dict(ref_id=2, image_id=1, ann_id=10, split='train',
             sentences=[dict(sent=LONG)]),
    ]
    with open(tmp_path / 'refcocog' / 'refs(umd).p', 'wb') as f:
        pickle.dump(refs, f)
    with open(tmp_path / 'refcocog' / 'instances.json', 'w') as f:
        json.dump(instances, f)
    return tmp_path


def build(root, tokenize=True):
    pipeline = [dict(type='PickExpression')]
    if tokenize:
        pipeline.append(dict(type='TokenizeExpression', context_length=6))
    return DATASETS.build(
        dict(
            type='RefCocoDataset',
            data_root=str(root),
            ann_file='refcocog/refs(umd).p',
            instances_file='refcocog/instances.json',
            split='val',
            test_mode=True,
            pipeline=pipeline))


def test_token_counts_of_the_fixture_sentences():
    tok = TokenizeExpression(context_length=6)
    assert len(tok.encode(SHORT)) == 6
    assert len(tok.encode(LONG)) == 8
    assert tok.count_truncated([SHORT, LONG, LONG, 'box']) == 2


def test_one_summary_line_and_no_warning_per_sentence(gref_root, tmp_path):
    log = tmp_path / 'log.txt'
    MMLogger.get_instance('truncation_summary', log_file=str(log))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        ds = build(gref_root)
        samples = [ds[i] for i in range(len(ds))]
    lines = [line for line in open(log) if 'sentences truncated' in line]
    assert len(lines) == 1
    assert lines[0].rstrip().endswith(
        'RefCocoDataset(refcocog, umd, val): 2 of 4 sentences truncated to '
        '6 tokens (TokenizeExpression.context_length)')
    assert 'WARNING' in lines[0]
    assert not [w for w in caught if 'truncated' in str(w.message)]
    # the long sentences are still truncated: 5 tokens and the end token
    long = [s for s in samples if s['text'] == LONG]
    assert len(long) == 2
    for sample in long:
        assert sample['token_mask'].all()
        assert sample['token_ids'][-1] == 49407


def test_nothing_truncated_is_one_info_line(gref_root, tmp_path):
    log = tmp_path / 'log.txt'
    MMLogger.get_instance('truncation_none', log_file=str(log))
    ds = DATASETS.build(
        dict(
            type='RefCocoDataset',
            data_root=str(gref_root),
            ann_file='refcocog/refs(umd).p',
            instances_file='refcocog/instances.json',
            split='val',
            test_mode=True,
            pipeline=[dict(type='TokenizeExpression', context_length=22)]))
    assert ds.name == 'RefCocoDataset(refcocog, umd, val)'
    lines = [line for line in open(log) if 'sentences truncated' in line]
    assert len(lines) == 1 and 'INFO' in lines[0]
    assert ': 0 of 4 sentences truncated to 22 tokens' in lines[0]


def test_pipeline_without_tokenizer_logs_nothing(gref_root, tmp_path):
    log = tmp_path / 'log.txt'
    MMLogger.get_instance('truncation_no_tokenizer', log_file=str(log))
    build(gref_root, tokenize=False)
    assert not [line for line in open(log) if 'sentences truncated' in line]


def test_a_lone_transform_still_warns():
    # the inferencer and users' own pipelines: no dataset counted for them
    tok = TokenizeExpression(context_length=6)
    with pytest.warns(UserWarning, match='truncated to 6'):
        tok(dict(text=LONG))
