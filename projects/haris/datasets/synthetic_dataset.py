"""Synthetic referring dataset generated in code (runs anywhere)."""
import json
import os
import os.path as osp

import cv2

from mmseg.registry import DATASETS
from .generic_dataset import GenericReferringDataset
from .synthetic_scenes import generate_scenes, render_image, render_mask

SPLIT_SEEDS = dict(train=0, val=1, test=2)


def write_atomic(path: str, write) -> None:
    """Call ``write(tmp_path)`` then move the file into place."""
    base, ext = osp.splitext(path)
    tmp = f'{base}.{os.getpid()}.tmp{ext}'
    write(tmp)
    os.replace(tmp, path)


@DATASETS.register_module()
class SyntheticReferringDataset(GenericReferringDataset):
    """Scenes of 2-4 coloured shapes; each ref is one shape named by
    attributes (colour, shape, size) and/or a spatial word, so exactly one
    shape fits. Deterministic in ``seed`` and ``split`` (disjoint random
    streams). On first use the images, PNG masks and a generic JSON-lines
    file are written under ``data_root``; later runs reuse them.

    Args:
        data_root (str): Folder for the generated files.
            Defaults to 'data/synthetic'.
        split (str): 'train', 'val' or 'test'. Defaults to 'train'.
        num_samples (int): Number of scenes (refs). Defaults to 1000.
        image_size (int): Side of the square images. Defaults to 96.
        seed (int): Base seed. Defaults to 0.
        relational_only (bool): Distractors share the target's colour and
            shape, so only spatial words pick it. Defaults to False.
        **kwargs: ``ReferringDataset`` arguments.
    """

    def __init__(self,
                 data_root: str = 'data/synthetic',
                 split: str = 'train',
                 num_samples: int = 1000,
                 image_size: int = 96,
                 seed: int = 0,
                 relational_only: bool = False,
                 **kwargs) -> None:
        if split not in SPLIT_SEEDS:
            raise ValueError(f'Unknown synthetic split {split!r}; use one '
                             f'of {sorted(SPLIT_SEEDS)}.')
        name = f'{split}_n{num_samples}_s{seed}_{image_size}px' + (
            '_relational' if relational_only else '')
        folder = osp.join(data_root, name)
        ann_file = osp.join(folder, 'refs.jsonl')
        if not osp.isfile(ann_file):
            self.generate(folder, ann_file, num_samples,
                          seed * 10 + SPLIT_SEEDS[split], image_size,
                          relational_only)
        super().__init__(ann_file='refs.jsonl', data_root=folder, **kwargs)

    @staticmethod
    def generate(folder, ann_file, num, seed, size, relational_only):
        """Write images, masks and the JSON-lines file."""
        os.makedirs(osp.join(folder, 'images'), exist_ok=True)
        scenes = generate_scenes(
            num, seed=seed, size=size, relational_only=relational_only)
        lines = []
        for i, scene in enumerate(scenes):
            img, mask = f'images/{i:06d}.png', f'images/{i:06d}_mask.png'
            write_atomic(
                osp.join(folder, img),
                lambda p: cv2.imwrite(p, render_image(scene)))
            write_atomic(
                osp.join(folder, mask),
                lambda p: cv2.imwrite(p, render_mask(scene, scene['target'])
                                      * 255))
            lines.append(
                json.dumps(
                    dict(image=img, mask=mask, sentences=scene['sentences'],
                         ref_id=i)))

        def write_lines(path):
            with open(path, 'w', encoding='utf-8') as f:
                f.write('\n'.join(lines) + '\n')

        write_atomic(ann_file, write_lines)
