"""Attention focus: hand-made maps and masks whose answer is known, and
the command line on a freshly built tiny model."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from mmengine.config import Config

from tests.e2e_utils import ROOT
from tests.tiny_models import tiny_model_cfg
from tools.analysis.attention_focus import (attention_focus, mask_on_grid,
                                            mask_share, matches_distractor,
                                            summarise, word_type)

WORDS = ['<start_of_text>', 'the', 'red', 'circle', '<end_of_text>']


def maps_for(red, circle, grid):
    """A level's maps: 'red' and 'circle' get the given (h, w) maps, the
    other tokens a constant they never use."""
    attn = np.full((len(WORDS), *grid), 0.01)
    attn[2], attn[3] = red, circle
    return attn


def test_word_types():
    assert [word_type(w) for w in WORDS] == [None, None, 'colour', 'shape',
                                             None]
    assert word_type('small') == 'size' and word_type('large') == 'size'
    assert word_type('shapes') == 'shape' and word_type('Left') == 'spatial'
    for w in ('top', 'bottom', 'right', 'above', 'below'):
        assert word_type(w) == 'spatial'
    for w in ('on', 'at', 'of', 'all', 'two'):
        assert word_type(w) is None


def test_all_inside_half_inside_and_a_coarser_grid():
    mask = np.zeros((8, 8), np.uint8)
    mask[:, :4] = 1  # the left half
    # level 0: 8x8 grid (one pixel a cell); level 1: 4x4 (2x2 pixels)
    red0 = np.zeros((8, 8))
    red0[2:5, 0:3] = 1.0  # all of 'red' inside
    circle0 = np.zeros((8, 8))
    circle0[0, 3] = circle0[0, 4] = 0.5  # one cell in, one out: 0.5
    red1 = np.zeros((4, 4))
    red1[1, 1] = 2.0  # cell of pixels x 2-3: inside
    red1[1, 2] = 2.0  # x 4-5: outside -> 0.5
    circle1 = np.ones((4, 4))  # uniform: the mask's area share, 0.5
    maps = [dict(round1=maps_for(red0, circle0, (8, 8)),
                 round2=maps_for(circle0, red0, (8, 8))),
            dict(round1=maps_for(red1, circle1, (4, 4)),
                 round2=maps_for(circle1, red1, (4, 4)))]
    out = attention_focus(maps, WORDS, mask)
    assert [(e['word'], e['type'], e['index']) for e in out] == [
        ('red', 'colour', 2), ('circle', 'shape', 3)]
    red, circle = out
    assert red['round1'] == pytest.approx([1.0, 0.5])
    assert red['round2'] == pytest.approx([0.5, 0.5])
    assert circle['round1'] == pytest.approx([0.5, 0.5])
    assert circle['round2'] == pytest.approx([1.0, 0.5])


def test_a_cell_half_inside_counts_half():
    mask = np.zeros((8, 8), np.uint8)
    mask[:, :1] = 1  # one pixel column: half of each left 2x2 cell
    inside, image = mask_on_grid(mask, (4, 4))
    expected = np.zeros((4, 4))
    expected[:, 0] = 0.5
    np.testing.assert_allclose(inside, expected)
    np.testing.assert_allclose(image, np.ones((4, 4)))
    red = np.zeros((4, 4))
    red[0, 0], red[0, 1] = 3.0, 1.0  # 3 * 0.5 / 4
    out = attention_focus([dict(round1=maps_for(red, red, (4, 4)))], WORDS,
                          mask)
    assert out[0]['round1'] == pytest.approx([0.375])
    assert 'round2' not in out[0]  # a model without feedback
    uniform = np.ones((4, 4))
    out = attention_focus(
        [dict(round1=maps_for(red, red, (4, 4)),
              vwa=maps_for(uniform, red, (4, 4)))], WORDS, mask)
    assert out[0]['vwa'] == pytest.approx([1 / 8])  # uniform: the area
    assert mask_share(mask, (4, 4)) == pytest.approx(1 / 8)


def test_padding_and_a_mask_at_the_original_resolution():
    """The image (mask 20x40) is resized to 4x8 and padded to 8x8: the
    bottom half of the grid is padding, which counts neither way."""
    mask = np.zeros((20, 40), np.uint8)
    mask[:, 20:] = 1  # the right half of the image
    inside, image = mask_on_grid(mask, (4, 4), (4, 8), (8, 8))
    np.testing.assert_allclose(image[:2], 1)
    np.testing.assert_allclose(image[2:], 0)
    np.testing.assert_allclose(inside[:2, 2:], 1)
    assert inside.sum() == 4
    red = np.zeros((4, 4))
    red[0, 3] = 1.0  # inside
    red[3, 3] = 5.0  # on padding: left out
    red[1, 0] = 1.0  # outside
    out = attention_focus([dict(round1=maps_for(red, red, (4, 4)))], WORDS,
                          mask, (4, 8), (8, 8))
    assert out[0]['round1'] == pytest.approx([0.5])
    assert mask_share(mask, (4, 4), (4, 8), (8, 8)) == pytest.approx(0.5)


def test_bad_inputs_are_named():
    grid = np.ones((len(WORDS), 2, 2))
    with pytest.raises(ValueError, match='mask is empty'):
        attention_focus([dict(round1=grid)], WORDS, np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r'expected \(5, h, w\)'):
        attention_focus([dict(round1=grid[:3])], WORDS, np.ones((4, 4)))


def test_distractor_matches():
    objects = [dict(shape='circle', colour='red', size='small'),
               dict(shape='circle', colour='blue', size='large'),
               dict(shape='square', colour='red', size='large')]
    assert matches_distractor('red', objects, [0]) is True
    assert matches_distractor('circle', objects, [0]) is True
    assert matches_distractor('small', objects, [0]) is False
    assert matches_distractor('circles', objects, [0, 1]) is False
    assert matches_distractor('shape', objects, [0]) is True
    assert matches_distractor('left', objects, [0]) is None
    assert matches_distractor('the', objects, [0]) is None


def test_summary_splits_by_distractor_match():
    def word(kind, r1, r2, match):
        return dict(type=kind, round1=[r1], round2=[r2],
                    matches_distractor=match)

    samples = [dict(chance=[0.1], words=[word('colour', 0.2, 0.6, True),
                                         word('shape', 0.5, 0.5, False)]),
               dict(chance=[0.3], words=[word('colour', 0.4, 0.2, False),
                                         word('spatial', 0.1, 0.3, None)])]
    table = summarise(samples, 1)
    assert table['all']['level0']['colour'] == dict(
        n=2, round1=0.3, round2=0.4, round2_minus_round1=0.1, chance=0.2)
    assert table['match_a_distractor']['level0'] == {'colour': dict(
        n=1, round1=0.2, round2=0.6, round2_minus_round1=0.4, chance=0.1)}
    assert set(table['match_only_the_referent']['level0']) == {
        'colour', 'shape'}
    assert table['all']['level0']['spatial']['n'] == 1


@pytest.fixture(scope='module')
def tiny_checkpoint(tmp_path_factory):
    """A config and a checkpoint of a freshly built tiny model (trained
    for 0 iterations) on a small synthetic split."""
    import torch
    from mmengine.runner import save_checkpoint

    from projects.haris.apis import RefSegInferencer
    tmp = tmp_path_factory.mktemp('focus')
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'haris_synthetic.py'))
    cfg.model = tiny_model_cfg()
    for split in ('val', 'test'):
        cfg[f'{split}_dataloader'].dataset.update(
            data_root=str(tmp / 'data'), num_samples=4, image_size=64)
    cfg.dump(str(tmp / 'cfg.py'))
    torch.manual_seed(0)
    model = RefSegInferencer(cfg, device='cpu').model
    save_checkpoint(dict(state_dict=model.state_dict(), meta={}),
                    str(tmp / 'tiny.pth'))
    return tmp


def test_command_line_matches_the_function(tiny_checkpoint):
    from mmseg.registry import DATASETS
    from projects.haris.apis import RefSegInferencer, collect_attention
    tmp = tiny_checkpoint
    out = tmp / 'focus.json'
    proc = subprocess.run(
        [sys.executable, 'tools/analysis/attention_focus.py',
         str(tmp / 'cfg.py'), str(tmp / 'tiny.pth'), '--num', '3',
         '--out', str(out)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result['num_sentences'] == 3 and len(result['samples']) == 3
    assert set(result['summary']) == {'all', 'match_a_distractor',
                                      'match_only_the_referent'}
    assert set(result['summary']['all']) == {'level0', 'level1', 'level2'}

    # sample 0 again, through collect_attention and the function
    cfg = Config.fromfile(str(tmp / 'cfg.py'))
    dataset = DATASETS.build(dict(cfg.val_dataloader.dataset, pipeline=[]))
    with open(dataset.ann_file) as f:
        line = json.loads(f.readline())
    scene = dataset.scenes()[0]
    sample = result['samples'][0]
    assert sample['sentence'] == line['sentences'][0]
    inferencer = RefSegInferencer(cfg, str(tmp / 'tiny.pth'), device='cpu')
    image = osp.join(dataset.data_root, line['image'])
    levels = [collect_attention(inferencer, image, sample['sentence'], i)
              for i in range(3)]
    import cv2
    mask = cv2.imread(osp.join(dataset.data_root, line['mask']), 0)
    direct = attention_focus(
        [dict(round1=a['round1'], round2=a['round2'], vwa=a['vwa'])
         for a in levels],
        levels[0]['words'], mask, levels[0]['img_shape'],
        levels[0]['pad_shape'])
    content = [w for w in sample['sentence'].split() if word_type(w)]
    assert [e['word'] for e in sample['words']] == content
    for got, want in zip(sample['words'], direct):
        for name in ('round1', 'round2', 'vwa'):
            assert got[name] == pytest.approx(want[name], abs=1e-6)
            assert all(0 <= v <= 1 for v in got[name])
        assert got['matches_distractor'] == matches_distractor(
            got['word'], scene['objects'], [scene['target']])
    assert sample['chance'][0] == pytest.approx(
        mask_share(mask, levels[0]['round1'].shape[1:],
                   levels[0]['img_shape'], levels[0]['pad_shape']))
    # the summary is the mean over the samples' words of that type
    kind = sample['words'][0]['type']
    values = [w['round2'][0] - w['round1'][0] for s in result['samples']
              for w in s['words'] if w['type'] == kind]
    row = result['summary']['all']['level0'][kind]
    assert row['n'] == len(values)
    assert row['round2_minus_round1'] == pytest.approx(np.mean(values),
                                                       abs=1e-4)


def test_command_line_refuses_a_dataset_that_is_not_synthetic(
        tiny_checkpoint, tmp_path):
    cfg = Config.fromfile(str(tiny_checkpoint / 'cfg.py'))
    cfg.val_dataloader.dataset = dict(type='GenericReferringDataset',
                                      ann_file='x.jsonl')
    cfg.dump(str(tmp_path / 'generic.py'))
    proc = subprocess.run(
        [sys.executable, 'tools/analysis/attention_focus.py',
         str(tmp_path / 'generic.py'), str(tiny_checkpoint / 'tiny.pth')],
        cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0
    assert 'SyntheticReferringDataset' in proc.stderr


def test_distractor_split_words_all_match_a_distractor(tiny_checkpoint):
    """On the split built for the claim, read through --cfg-options, the
    scene comes from the lines and every attribute word matches a
    distractor."""
    tmp = tiny_checkpoint
    out = tmp / 'distractor.json'
    proc = subprocess.run(
        [sys.executable, 'tools/analysis/attention_focus.py',
         str(tmp / 'cfg.py'), str(tmp / 'tiny.pth'), '--split', 'test',
         '--num', '2', '--out', str(out), '--cfg-options',
         'test_dataloader.dataset.distractor_attributes=True'],
        cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result['data'] == 'test_n4_s0_64px_distractor-attrs'
    words = [w for s in result['samples'] for w in s['words']]
    assert len(words) >= 4
    assert all(w['matches_distractor'] is True for w in words)
    assert result['summary']['match_only_the_referent'] == {
        'level0': {}, 'level1': {}, 'level2': {}}
