"""Users' own referring data: one JSON object per line."""
import json
import os.path as osp
from typing import List

from mmseg.registry import DATASETS
from .referring_dataset import ReferringDataset

FORMAT_HELP = (
    'Each line is a JSON object: {"image": "images/1.jpg", "sentences": '
    '["the red cup"], "mask": "masks/1.png"} where "mask" is a PNG path, '
    '{"polygons": [[x0, y0, x1, y1, ...], ...]} or {"rle": {"size": [h, w], '
    '"counts": ...}}; "expression" may replace "sentences"; "ref_id" is '
    'optional. For generalized referring data, "no_target" (true: the '
    'sentences name nothing and the mask is empty) and "num_targets" (the '
    'number of objects named, 0 for no-target) are optional too. See '
    'docs/dataset_prepare.md.')


def target_counts(item: dict, where: str) -> dict:
    """The ``no_target`` / ``num_targets`` keys of one line, checked; a
    key that cannot be derived from the line is left out."""
    out = {}
    no_target, num = item.get('no_target'), item.get('num_targets')
    if no_target is not None:
        if not isinstance(no_target, bool):
            raise ValueError(f'{where}: "no_target" is {no_target!r}; use '
                             f'true or false. {FORMAT_HELP}')
        out['no_target'] = no_target
        if no_target:
            out['num_targets'] = 0
    if num is not None:
        if isinstance(num, bool) or not isinstance(num, int) or num < 0:
            raise ValueError(f'{where}: "num_targets" is {num!r}; use a '
                             f'whole number >= 0. {FORMAT_HELP}')
        if no_target is not None and no_target != (num == 0):
            raise ValueError(
                f'{where}: "no_target" is {str(no_target).lower()} but '
                f'"num_targets" is {num}; a no-target line has '
                'num_targets 0 and only it.')
        out.update(no_target=num == 0, num_targets=num)
    return out


def mask_annotation(mask, root: str, where: str) -> dict:
    """The ``mask_ann`` of one generic line's ``mask`` field."""
    if isinstance(mask, str):
        return dict(type='png', path=osp.join(root, mask))
    if isinstance(mask, dict) and 'polygons' in mask:
        return dict(type='coco', segmentation=mask['polygons'], source=where)
    if isinstance(mask, dict) and 'rle' in mask:
        return dict(type='coco', segmentation=mask['rle'], source=where)
    raise ValueError(f'{where}: unknown "mask" {str(mask)[:80]}. '
                     f'{FORMAT_HELP}')


@DATASETS.register_module()
class GenericReferringDataset(ReferringDataset):
    """Referring samples listed in a JSON-lines file.

    Image and PNG mask paths are relative to ``data_root``.

    Args:
        ann_file (str): The JSON-lines file (relative to ``data_root``).
        **kwargs: ``ReferringDataset`` arguments.
    """

    def load_refs(self) -> List[dict]:
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'Annotation file {self.ann_file} not found. {FORMAT_HELP}')
        refs = []
        with open(self.ann_file, 'rb') as f:
            for num, raw in enumerate(f, 1):
                where = f'{self.ann_file}:{num}'
                try:
                    line = raw.decode('utf-8')
                    if not line.strip():
                        continue
                    item = json.loads(line)
                    sentences = item.get('sentences') or [item['expression']]
                    if isinstance(sentences, str):
                        sentences = [sentences]
                    image, mask = item['image'], item['mask']
                except UnicodeDecodeError as err:
                    raise ValueError(
                        f'{where}: not UTF-8 text ({err}); save the file as '
                        'UTF-8.') from err
                except (ValueError, KeyError, TypeError) as err:
                    raise ValueError(
                        f'{where}: bad line ({err!r}). {FORMAT_HELP}') from err
                counts = target_counts(item, where)
                refs.append(
                    dict(
                        img_path=osp.join(self.data_root, image),
                        sentences=[str(s) for s in sentences],
                        ref_id=item.get('ref_id', len(refs)),
                        mask_ann=mask_annotation(mask, self.data_root,
                                                 where),
                        **counts))
        return refs
