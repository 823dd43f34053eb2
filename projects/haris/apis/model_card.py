"""The model card (README.md) of a model folder, in the Hugging Face hub's
format: YAML front matter (library, tags, base model, datasets, and the
metrics as ``model-index``), then the task, the encoders, the training
config and data, the metrics table of ``tools/test.py`` JSON files with
the mask rule and resolution of each number, usage, limitations and a
licence line to fill."""
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence

import yaml
from mmengine.config import Config

# keys of a tools/test.py JSON file that are not metrics
NOT_METRICS = ('split', 'num_sentences', 'config', 'checkpoint', 'model',
               'threshold', 'eval_size')
TASK = dict(type='image-segmentation', name='Referring image segmentation')


def is_hub_id(name: Optional[str]) -> bool:
    """``owner/name`` that is not a local path."""
    return isinstance(name, str) and name.count('/') == 1 and \
        not name.startswith(('.', '/', '~')) and not osp.exists(name)


def base_models(cfg: Config) -> List[str]:
    """The folders or hub ids the frozen or adapted encoders load from."""
    backbone = cfg.model.get('backbone') or {}
    names = [backbone['pretrained']] if backbone.get('pretrained') else []
    init = (backbone.get('vision_encoder') or {}).get('init_cfg') or {}
    if isinstance(init, dict) and init.get('type') == 'Pretrained':
        names.append(init['checkpoint'])
    return names


def dataset_name(dataset: Optional[dict]) -> str:
    """A short name of a dataset config: the annotation folder for the
    refer toolkit's files (refcoco, refcoco+, refcocog), else its type."""
    dataset = dataset or {}
    ann_file = dataset.get('ann_file')
    if isinstance(ann_file, str) and '/' in ann_file:
        return ann_file.split('/')[0]
    name = str(dataset.get('type', 'unknown'))
    name = name[:-len('Dataset')] if name.endswith('Dataset') else name
    return re.sub(r'(?<=[a-z0-9])(?=[A-Z])', '-', name).lower()


def mask_threshold(key: str, threshold: float) -> float:
    """The sigmoid threshold a metric key was scored at: the ``@x`` suffix
    RefSegMetric gives further thresholds (``mIoU@0.35``,
    ``Prec@0.5@0.35``), else the model's ``threshold``."""
    at = key.count('@') - (1 if key.startswith(('Prec@', 'Pr@')) else 0)
    return float(key.rsplit('@', 1)[1]) if at else threshold


def resolution(eval_size) -> str:
    if not eval_size:
        return 'original image size'
    h, w = (eval_size, eval_size) if isinstance(eval_size, int) \
        else eval_size
    return f'{h}x{w} (nearest-neighbour resize)'


def metric_rows(cfg: Config, results: Sequence[dict]) -> List[dict]:
    """One row per (split, metric) of ``tools/test.py`` JSON files, with
    the threshold and resolution it was scored at (the file's
    ``threshold``/``eval_size``, else the config's)."""
    head = cfg.model.get('decode_head') or {}
    evaluator = cfg.get('test_evaluator') or {}
    if isinstance(evaluator, (list, tuple)):
        evaluator = evaluator[0] if evaluator else {}
    rows = []
    for result in results:
        threshold = result.get('threshold', head.get('threshold', 0.5))
        size = result.get('eval_size', evaluator.get('eval_size'))
        for key, value in result.items():
            if key in NOT_METRICS or isinstance(value, bool) or \
                    not isinstance(value, (int, float)):
                continue
            rows.append(
                dict(
                    split=result.get('split', 'test'),
                    metric=key,
                    value=round(float(value), 2),
                    rule=f'sigmoid > {mask_threshold(key, threshold):g}',
                    resolution=resolution(size),
                    sentences=result.get('num_sentences')))
    return rows


def front_matter(cfg: Config, train_cfg: Config, name: str,
                 rows: List[dict]) -> str:
    test_data = dataset_name(
        (cfg.get('test_dataloader') or {}).get('dataset'))
    meta = dict(
        library_name='haris',
        pipeline_tag='image-segmentation',
        tags=['referring-image-segmentation', 'image-segmentation', 'clip',
              'mmsegmentation', 'haris'])
    bases = [b for b in base_models(cfg) if is_hub_id(b)]
    if bases:
        meta['base_model'] = bases[0] if len(bases) == 1 else bases
    datasets = [dataset_name(
        (train_cfg.get('train_dataloader') or {}).get('dataset'))]
    datasets += [test_data] if test_data not in datasets else []
    meta['datasets'] = datasets
    results = {}  # one result per split, as the hub groups them
    for row in rows:
        results.setdefault(row['split'], dict(
            task=dict(TASK),
            dataset=dict(name=test_data, type=test_data, split=row['split']),
            metrics=[]))['metrics'].append(
                dict(type=row['metric'], value=row['value'],
                     name=f'{row["metric"]} ({row["rule"]}, '
                     f'{row["resolution"]})'))
    if results:
        meta['model-index'] = [dict(name=name,
                                    results=list(results.values()))]
    return ('---\n' + yaml.safe_dump(meta, sort_keys=False) +
            'license:  # fill in, e.g. apache-2.0; the base model\'s and '
            'the datasets\' terms apply too\n---\n')


def model_card(cfg: Config,
               train_cfg: Config,
               config_path: str,
               results: Sequence[dict] = (),
               repo_id: Optional[str] = None) -> str:
    """The README.md of a model folder.

    Args:
        cfg (Config): The folder's config.
        train_cfg (Config): The config it was trained with (its training
            data is named).
        config_path (str): The training config's file.
        results (Sequence[dict]): ``tools/test.py`` JSON files, read.
        repo_id (str, optional): The hub id the usage lines load.
    """
    name = osp.splitext(osp.basename(config_path))[0]
    if osp.isabs(config_path):  # as the repository names it
        rel = osp.relpath(config_path)
        config_path = osp.basename(rel) if rel.startswith('..') else rel
    rows = metric_rows(cfg, results)
    source = repo_id or 'path/to/this/folder'
    backbone = cfg.model.get('backbone') or {}
    bases = base_models(cfg)
    if bases:
        encoders = ', '.join(f'`{b}`' for b in bases)
        frozen = 'frozen' if backbone.get('frozen', True) else 'trained'
        adapters = ' with LoRA adapters' if backbone.get('peft_cfg') else ''
        encoders = (f'CLIP encoders from {encoders} ({frozen}{adapters}). '
                    'The frozen weights are not in this folder: they are '
                    'loaded from the base model and checked against the '
                    'SHA-256 recorded in `model.safetensors`.')
    else:
        encoders = ('CLIP-architecture encoders built from the config and '
                    'trained from scratch; every weight is in this folder.')
    train = (train_cfg.get('train_dataloader') or {}).get('dataset') or {}
    size = (cfg.model.get('data_preprocessor') or {}).get('size')
    text = [
        front_matter(cfg, train_cfg, name, rows), f'# {name}', '',
        'HARIS (human-like attention for referring image segmentation): '
        'given an image and a sentence that names one object, it returns '
        'that object\'s mask.', '',
        f'- Encoders: {encoders}',
        f'- Training config: `{config_path}` of the HARIS repository '
        '(resolved in `config.py`, without its training-only parts).',
        f'- Training data: {dataset_name(train)} '
        f'({train.get("type", "?")}, split `{train.get("split", "?")}`).',
        f'- Input: images letterboxed to {size[0]}x{size[1]}, sentences of '
        'up to '
        f'{context_length(cfg)} tokens.' if size else '', '',
        '## Results', ''
    ]
    if rows:
        text += [
            'Measured with `tools/test.py`; a pixel is in the mask when its '
            'sigmoid probability passes the rule.', '',
            '| split | metric | value | mask rule | resolution | '
            'sentences |', '|---|---|---|---|---|---|'
        ]
        text += [
            f'| {r["split"]} | {r["metric"]} | {r["value"]:.2f} | '
            f'{r["rule"]} | {r["resolution"]} | {r["sentences"]} |'
            for r in rows
        ]
    else:
        text.append('Not evaluated yet (no `tools/test.py` results given).')
    text += [
        '', '## Use it', '', '```python',
        'from projects.haris.apis import RefSegInferencer  # HARIS, '
        'installed',
        f'inferencer = RefSegInferencer.from_pretrained({source!r})',
        "result = inferencer('photo.jpg', 'the dog on the left')[0]",
        "mask, score = result['mask'], result['score']  # (H, W) bool",
        "print(mask.sum(), 'pixels, score', round(score, 3))", '```', '',
        'or `python demo/image_demo.py photo.jpg "the dog on the left" '
        f'--model {source}`; `tools/test.py --model {source}` evaluates it '
        '(give your data paths with `--cfg-options '
        'test_dataloader.dataset.data_root=...`).', '',
        '## Limitations', '',
        f'- Trained on {dataset_name(train)} only: expect lower accuracy on '
        'other images and phrasings. English sentences; longer ones are '
        'truncated (with a warning).',
        '- One mask per sentence; unless the model has the no-target '
        'output, it always answers with some region.',
        '- The base encoders\' own biases and licence carry over.', '',
        '## Licence', '',
        'Licence: to fill in (and in the `license` field above).', ''
    ]
    return '\n'.join(line for line in text if line is not None)


def context_length(cfg: Config) -> Optional[int]:
    pipeline = ((cfg.get('test_dataloader') or {}).get('dataset')
                or {}).get('pipeline') or []
    return next((s.get('context_length') for s in pipeline
                 if s.get('type') == 'TokenizeExpression'), None)


def read_results(files: Sequence[str]) -> List[Dict]:
    """``tools/test.py`` ``<split>.json`` files, read; a missing file or
    another JSON file is named."""
    import json
    out = []
    for path in files:
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'Metrics file {path} not found; give the <split>.json '
                'files tools/test.py writes in its work dir.')
        with open(path) as f:
            result = json.load(f)
        if not isinstance(result, dict) or 'split' not in result:
            raise ValueError(
                f'Metrics file {path} is not a <split>.json of tools/test.py '
                '(no "split" key); give those files, not summary.json or '
                'the log\'s <timestamp>.json.')
        out.append(result)
    return out
