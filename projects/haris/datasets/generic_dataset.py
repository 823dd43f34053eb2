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
    'optional. See docs/dataset_prepare.md.')


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
                refs.append(
                    dict(
                        img_path=osp.join(self.data_root, image),
                        sentences=[str(s) for s in sentences],
                        ref_id=item.get('ref_id', len(refs)),
                        mask_ann=mask_annotation(mask, self.data_root,
                                                 where)))
        return refs
