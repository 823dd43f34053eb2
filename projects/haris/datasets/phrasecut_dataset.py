"""PhraseCut (Visual Genome images) for zero-shot evaluation."""
import json
import os.path as osp
from typing import List

from mmseg.registry import DATASETS
from .referring_dataset import ReferringDataset


@DATASETS.register_module()
class PhraseCutDataset(ReferringDataset):
    """PhraseCut's ``refer_{train,val,test}.json``: one phrase per task; the
    mask is the union of every instance's polygons.

    Args:
        ann_file (str): e.g. 'phrasecut/refer_test.json' (relative to
            ``data_root``).
        data_prefix (dict): ``img_path``: the Visual Genome image folder,
            e.g. 'phrasecut/images'; images are ``{image_id}.jpg``.
        **kwargs: ``ReferringDataset`` arguments.
    """

    def load_refs(self) -> List[dict]:
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'{self.ann_file} not found; see '
                                    'docs/dataset_prepare.md.')
        with open(self.ann_file) as f:
            tasks = json.load(f)
        img_dir = self.data_prefix.get('img_path', '')
        refs = []
        for task in tasks:
            polygons = [[c for point in poly for c in point]
                        for instance in task['Polygons'] for poly in instance]
            refs.append(
                dict(
                    img_path=osp.join(img_dir, f'{task["image_id"]}.jpg'),
                    sentences=[task['phrase']],
                    ref_id=task['task_id'],
                    mask_ann=dict(
                        type='coco',
                        segmentation=polygons,
                        source=f'task {task["task_id"]}')))
        return refs
