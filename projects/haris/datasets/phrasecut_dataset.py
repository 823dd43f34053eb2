"""PhraseCut (Visual Genome images) for zero-shot evaluation."""
import json
import os.path as osp
from typing import List

from mmseg.registry import DATASETS
from .mask_decoding import POLYGON_RASTERIZERS
from .referring_dataset import ReferringDataset


@DATASETS.register_module()
class PhraseCutDataset(ReferringDataset):
    """PhraseCut's ``refer_{train,val,test}.json``: one phrase per task; the
    mask is the union of every instance's polygons.

    By default the polygons are rasterised as PhraseCut's own evaluator
    rasterises them (integer-truncated points, Pillow's polygon fill, which
    includes the boundary; see ``phrasecut_polygons_to_mask``), so that IoUs
    compare with published PhraseCut numbers. Degenerate polygons (fewer
    than 3 points, zero area, outside the image) do not raise.

    Args:
        ann_file (str): e.g. 'phrasecut/refer_test.json' (relative to
            ``data_root``).
        data_prefix (dict): ``img_path``: the Visual Genome image folder,
            e.g. 'phrasecut/images'; images are ``{image_id}.jpg``.
        rasterizer (str): ``'phrasecut'`` (PhraseCut's evaluator) or
            ``'coco'`` (pycocotools, which leaves out the right and bottom
            boundary pixels and raises on a task without a polygon of at
            least 3 points). Defaults to 'phrasecut'.
        **kwargs: ``ReferringDataset`` arguments.
    """

    def __init__(self, *args, rasterizer: str = 'phrasecut',
                 **kwargs) -> None:
        if rasterizer not in POLYGON_RASTERIZERS:
            raise ValueError(f'rasterizer={rasterizer!r}; expected one of '
                             f'{POLYGON_RASTERIZERS}.')
        self.rasterizer = rasterizer
        super().__init__(*args, **kwargs)

    def load_refs(self) -> List[dict]:
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'{self.ann_file} not found; see '
                                    'docs/dataset_prepare.md.')
        with open(self.ann_file) as f:
            tasks = json.load(f)
        img_dir = self.data_prefix.get('img_path', '')
        refs = []
        for task in tasks:
            # Polygons: instances -> polygons -> [x, y] points; the mask is
            # the union of all polygons, kept as flat COCO lists.
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
                        rasterizer=self.rasterizer,
                        source=f'task {task["task_id"]}')))
        return refs
