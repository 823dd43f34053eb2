"""Attention focus: how much of each word's language-weighted attention
falls on the referred object, in HLA's bottom-up round and in its
feedback round; and, for comparison, how much of the word's own attention
over the image in VWA's word update does.

For one word and one round, the focus is the share of the word's
attention mass (its column of the LWA weights, over the visual tokens)
that lies inside the referent's mask:

    focus = sum_cells A(cell) * m(cell) / sum_cells A(cell) * c(cell)

where ``m`` is the fraction of each token's cell covered by the mask and
``c`` the fraction covered by the image (1 everywhere unless the input was
padded). The mask is resized to the token grid by area averaging, so a
cell half inside the mask counts half. Uniform attention gives the mask's
area share, reported as ``chance``.

Example:
    python tools/analysis/attention_focus.py CONFIG CHECKPOINT \
        --split val --num 200 --out focus.json \
        [--cfg-options val_dataloader.dataset.distractor_attributes=True]

The dataset is the config's ``val_dataloader`` (or ``test_dataloader`` for
``--split test``) dataset, a :class:`SyntheticReferringDataset`: its scenes
say which words also describe a distractor.
"""
import argparse
import json
import os.path as osp
import statistics
import sys
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np

sys.path.insert(
    0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

WORD_TYPES = dict(
    colour=('red', 'green', 'blue', 'yellow'),
    shape=('circle', 'square', 'triangle', 'shape', 'circles', 'squares',
           'triangles', 'shapes'),
    size=('small', 'large'),
    spatial=('left', 'right', 'top', 'bottom', 'above', 'below'),
)
# LWA's two rounds (each visual token's attention over the words, read
# per word) and VWA (each word's attention over the visual tokens)
ROUNDS = ('round1', 'round2', 'vwa')
SINGULAR = dict(circles='circle', squares='square', triangles='triangle',
                shapes='shape')


def word_type(word: str) -> Optional[str]:
    """'colour', 'shape', 'size' or 'spatial' for a content word of the
    synthetic vocabulary; None for any other token (articles, 'on', 'at',
    'of', start/end markers). Every vocabulary word is one CLIP token."""
    word = word.lower()
    for kind, words in WORD_TYPES.items():
        if word in words:
            return kind
    return None


def mask_on_grid(mask: np.ndarray,
                 grid: Sequence[int],
                 img_shape: Optional[Sequence[int]] = None,
                 pad_shape: Optional[Sequence[int]] = None):
    """The mask's and the image's coverage of each token cell.

    The model sees the image resized to ``img_shape`` and padded at the
    bottom and right to ``pad_shape``; its tokens tile ``pad_shape`` as a
    ``grid``. The mask (at the original image's resolution) is resized
    to ``img_shape`` (nearest), placed in the padded frame and averaged
    over each cell's area.

    Args:
        mask (np.ndarray): (H, W) referent mask, non-zero inside.
        grid (Sequence[int]): Token grid (h, w).
        img_shape (Sequence[int], optional): (H', W') of the resized image.
            Defaults to the mask's shape.
        pad_shape (Sequence[int], optional): (H'', W'') of the padded
            input. Defaults to ``img_shape``.

    Returns:
        tuple[np.ndarray, np.ndarray]: (h, w) fractions in [0, 1] of each
        cell covered by the mask and by the image.
    """
    mask = (np.asarray(mask) > 0).astype(np.float32)
    img_h, img_w = img_shape if img_shape is not None else mask.shape
    pad_h, pad_w = pad_shape if pad_shape is not None else (img_h, img_w)
    if mask.shape != (img_h, img_w):
        mask = cv2.resize(mask, (img_w, img_h),
                          interpolation=cv2.INTER_NEAREST)
    framed = np.zeros((pad_h, pad_w), np.float32)
    image = np.zeros((pad_h, pad_w), np.float32)
    framed[:img_h, :img_w] = mask
    image[:img_h, :img_w] = 1
    return area_average(framed, grid), area_average(image, grid)


def area_average(plane: np.ndarray, grid: Sequence[int]) -> np.ndarray:
    """Mean of ``plane`` over each cell of a (h, w) grid tiling it: exact
    block means when the grid divides the plane, else OpenCV's area
    resampling."""
    gh, gw = grid
    ph, pw = plane.shape
    if ph % gh == 0 and pw % gw == 0:
        return plane.reshape(gh, ph // gh, gw, pw // gw).mean(axis=(1, 3))
    return cv2.resize(plane, (gw, gh), interpolation=cv2.INTER_AREA)


def attention_focus(maps: Sequence[Dict[str, np.ndarray]],
                    words: Sequence[str],
                    mask: np.ndarray,
                    img_shape: Optional[Sequence[int]] = None,
                    pad_shape: Optional[Sequence[int]] = None) -> List[dict]:
    """Each content word's attention focus on the referent, per round and
    level.

    Args:
        maps (Sequence[dict]): Per HLA level (0 = shallowest), a dict with
            ``round1`` and, with feedback, ``round2``: the head-averaged
            LWA weights (L_words, h, w) of the sentence's real tokens, and,
            with VWA, ``vwa`` (each word's attention over the image), as
            :func:`collect_attention` returns them for that level.
        words (Sequence[str]): The L_words tokens (start/end markers
            included).
        mask (np.ndarray): (H, W) referent mask at the original image's
            resolution.
        img_shape, pad_shape: The model input's resized and padded sizes
            (see :func:`mask_on_grid`); default: the mask's size.

    Returns:
        list[dict]: One entry per content word: ``index`` (token position),
        ``word``, ``type`` and, per round present, a list over levels of
        the share of the word's attention inside the mask (None where the
        word gives the image no attention at all).
    """
    if not np.asarray(mask).any():
        raise ValueError('The referent mask is empty: attention focus is '
                         'only defined for a sentence that names an object '
                         '(leave no-target sentences out).')
    grids = []
    for level, level_maps in enumerate(maps):
        if 'round1' not in level_maps:
            raise ValueError(f'Level {level} has no round1 map; expected '
                             'collect_attention output per level.')
        for name, attn in level_maps.items():
            if attn.ndim != 3 or attn.shape[0] != len(words):
                raise ValueError(
                    f'Level {level} {name} map has shape {attn.shape}; '
                    f'expected ({len(words)}, h, w): one map per token.')
        grids.append(mask_on_grid(mask, level_maps['round1'].shape[1:],
                                  img_shape, pad_shape))
    out = []
    for index, word in enumerate(words):
        kind = word_type(word)
        if kind is None:
            continue
        entry = dict(index=index, word=word, type=kind)
        for name in ROUNDS:
            if not all(name in m for m in maps):
                continue
            shares = []
            for level_maps, (inside, image) in zip(maps, grids):
                attn = level_maps[name][index].astype(np.float64)
                total = float((attn * image).sum())
                shares.append(float((attn * inside).sum()) /
                              total if total > 0 else None)
            entry[name] = shares
        out.append(entry)
    return out


def mask_share(mask: np.ndarray, grid: Sequence[int], img_shape=None,
               pad_shape=None) -> float:
    """Focus of uniform attention: the mask's share of the image area on
    the token grid."""
    inside, image = mask_on_grid(mask, grid, img_shape, pad_shape)
    return float(inside.sum() / image.sum())


def matches_distractor(word: str, objects: Sequence[dict],
                       targets: Sequence[int]) -> Optional[bool]:
    """Whether an attribute word also describes an object that is not
    referred to ('red' when another red shape is in the scene; 'shape'
    whenever there is another object). None for spatial words, which
    describe relations, not objects."""
    kind = word_type(word)
    if kind in (None, 'spatial'):
        return None
    word = SINGULAR.get(word.lower(), word.lower())
    others = [o for i, o in enumerate(objects) if i not in set(targets)]
    if word == 'shape':
        return bool(others)
    return any(o[kind] == word for o in others)


def read_lines(ann_file: str) -> List[dict]:
    with open(ann_file, encoding='utf-8') as f:
        return [json.loads(line) for line in f if line.strip()]


def line_scene(line: dict, scene: Optional[dict]) -> tuple:
    """(objects, referent indices) of one ref: from the line when it
    records them, else from the regenerated scene."""
    if 'objects' in line:
        return line['objects'], [line['target']]
    if scene is None:
        raise ValueError('The annotation lines do not record the scene '
                         'objects and the dataset cannot regenerate them.')
    return scene['objects'], scene.get('targets', [scene.get('target')])


def measure(inferencer, dataset, num: int) -> List[dict]:
    """Attention focus of the first ``num`` sentences of a synthetic split
    (no-target sentences skipped), refs in file order, every sentence of
    a ref in turn.

    Args:
        inferencer (RefSegInferencer): A model with an :class:`HLANeck`.
        dataset (SyntheticReferringDataset): The split.
        num (int): Number of sentences.

    Returns:
        list[dict]: Per sentence: ``ref_id``, ``sentence``, ``chance`` per
        level and ``words`` (:func:`attention_focus` entries, each with
        ``matches_distractor``).
    """
    from projects.haris.apis import collect_attention
    if num < 1:
        raise ValueError(f'--num {num}: give at least one sentence.')
    lines = read_lines(dataset.ann_file)
    scenes = dataset.scenes() if hasattr(dataset, 'scenes') else [None] * \
        len(lines)
    num_levels = len(inferencer.model.neck.blocks)
    samples = []
    for line, scene in zip(lines, scenes):
        objects, targets = line_scene(line, scene)
        mask = cv2.imread(osp.join(dataset.data_root, line['mask']),
                          cv2.IMREAD_GRAYSCALE)
        if not mask.any():
            continue
        image = osp.join(dataset.data_root, line['image'])
        for sentence in line['sentences']:
            if len(samples) == num:
                return samples
            levels = [
                collect_attention(inferencer, image, sentence, level)
                for level in range(num_levels)
            ]
            first = levels[0]
            maps = [{k: a[k] for k in ROUNDS if k in a} for a in levels]
            words = attention_focus(maps, first['words'], mask,
                                    first['img_shape'], first['pad_shape'])
            for entry in words:
                entry['matches_distractor'] = matches_distractor(
                    entry['word'], objects, targets)
            samples.append(dict(
                ref_id=line.get('ref_id'), sentence=sentence,
                chance=[mask_share(mask, m['round1'].shape[1:],
                                   first['img_shape'], first['pad_shape'])
                        for m in maps],
                words=words))
    return samples


def mean(values) -> Optional[float]:
    values = [v for v in values if v is not None]
    return round(statistics.mean(values), 4) if values else None


def average(samples: List[dict], num_levels: int, select=None) -> dict:
    """Per level and word type: the number of word occurrences ``n``, the
    mean focus of each round, ``round2_minus_round1`` (the mean of the
    per-word differences) and ``chance`` (mean mask share of the same
    sentences)."""
    select = select or (lambda entry: True)
    table = {}
    for level in range(num_levels):
        rows = {}
        for kind in WORD_TYPES:
            picked = [(s, w) for s in samples for w in s['words']
                      if w['type'] == kind and select(w)]
            if not picked:
                continue
            row = dict(n=len(picked))
            for name in ROUNDS:
                if name in picked[0][1]:
                    row[name] = mean(w[name][level] for _, w in picked)
            if 'round2' in row:
                row['round2_minus_round1'] = mean(
                    w['round2'][level] - w['round1'][level]
                    for _, w in picked if w['round2'][level] is not None
                    and w['round1'][level] is not None)
            row['chance'] = mean(s['chance'][level] for s, _ in picked)
            rows[kind] = row
        table[f'level{level}'] = rows
    return table


def summarise(samples: List[dict], num_levels: int) -> dict:
    """``all`` words, and words that ``match_a_distractor`` or
    ``match_only_the_referent`` (attribute words only)."""
    return dict(
        all=average(samples, num_levels),
        match_a_distractor=average(
            samples, num_levels, lambda w: w['matches_distractor'] is True),
        match_only_the_referent=average(
            samples, num_levels, lambda w: w['matches_distractor'] is False))


def build_split(cfg, split: str):
    """The config's synthetic dataset of ``split`` (generated if
    missing), without a pipeline."""
    from mmseg.registry import DATASETS
    loader = cfg.get(f'{split}_dataloader')
    if loader is None:
        raise ValueError(f'The config has no {split}_dataloader; give '
                         '--split val or test.')
    dataset = dict(loader['dataset'], split=split, pipeline=[])
    if dataset.get('type') != 'SyntheticReferringDataset':
        raise ValueError(
            f'attention_focus measures synthetic scenes; the {split} '
            f'dataset is {dataset.get("type")}. Use a config with '
            'SyntheticReferringDataset (e.g. configs/haris_synthetic.py).')
    return DATASETS.build(dataset)


def main(argv=None):
    from mmengine.config import Config, DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--split', default='val', choices=['val', 'test'])
    parser.add_argument('--num', type=int, default=100,
                        help='number of sentences')
    parser.add_argument('--out', default='attention_focus.json')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings (key=value)')
    args = parser.parse_args(argv)

    import projects.haris  # noqa: F401  (registers the components)
    from projects.haris.apis import RefSegInferencer
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    dataset = build_split(cfg, args.split)
    inferencer = RefSegInferencer(cfg, args.checkpoint, args.device)
    num_levels = len(inferencer.model.neck.blocks)
    samples = measure(inferencer, dataset, args.num)
    result = dict(
        config=args.config, checkpoint=args.checkpoint, split=args.split,
        data=osp.basename(dataset.data_root), num_sentences=len(samples),
        levels='level0 is the shallowest HLA level',
        focus=('share of a word\'s LWA attention mass (round1, round2) or '
               'of its VWA attention over the image (vwa) inside the '
               'referent mask; mask resized to the token grid by area '
               'averaging'),
        summary=summarise(samples, num_levels), samples=samples)
    with open(args.out, 'w') as f:
        json.dump(result, f, indent=1)
    for level, rows in result['summary']['all'].items():
        for kind, row in rows.items():
            print(f'{level} {kind:8s} n={row["n"]:4d} '
                  f'round1={row.get("round1")} round2={row.get("round2")} '
                  f'diff={row.get("round2_minus_round1")} '
                  f'vwa={row.get("vwa")} chance={row["chance"]}')
    print(f'{args.out}: {len(samples)} sentences')


if __name__ == '__main__':
    main()
