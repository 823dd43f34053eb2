"""Synthetic referring dataset generated in code (runs anywhere)."""
import json
import os
import os.path as osp

import cv2

from mmseg.registry import DATASETS
from .generic_dataset import GenericReferringDataset
from .synthetic_scenes import (generate_generalized_scenes, generate_scenes,
                               render_image, render_mask, render_union)

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

    In the generalized mode (``generalized=True``) a scene's expressions
    may also name nothing ("the blue triangle" when there is none, "all
    the yellow squares"; the mask is all zeros) or several shapes ("all
    the red shapes", "the two circles", "the three small shapes"; the mask
    is their union). Each scene's kind is drawn at the given rates
    (by default one scene in ten names nothing, one in four several
    shapes), and every line carries ``no_target`` and ``num_targets``.
    Its files go to a folder of their own (``..._gen-nt0.1-mt0.25``).

    Args:
        data_root (str): Folder for the generated files.
            Defaults to 'data/synthetic'.
        split (str): 'train', 'val' or 'test'. Defaults to 'train'.
        num_samples (int): Number of scenes (refs). Defaults to 1000.
        image_size (int): Side of the square images. Defaults to 96.
        seed (int): Base seed. Defaults to 0.
        relational_only (bool): Distractors share the target's colour and
            shape, so only spatial words pick it. Defaults to False.
        generalized (bool): Scenes whose expressions name no shape or
            several shapes too. Defaults to False.
        no_target_ratio (float): Share of no-target scenes in the
            generalized mode. Defaults to 0.1.
        multi_target_ratio (float): Share of multi-target scenes in the
            generalized mode. Defaults to 0.25.
        **kwargs: ``ReferringDataset`` arguments.
    """

    def __init__(self,
                 data_root: str = 'data/synthetic',
                 split: str = 'train',
                 num_samples: int = 1000,
                 image_size: int = 96,
                 seed: int = 0,
                 relational_only: bool = False,
                 generalized: bool = False,
                 no_target_ratio: float = 0.1,
                 multi_target_ratio: float = 0.25,
                 **kwargs) -> None:
        if split not in SPLIT_SEEDS:
            raise ValueError(f'Unknown synthetic split {split!r}; use one '
                             f'of {sorted(SPLIT_SEEDS)}.')
        if generalized and relational_only:
            raise ValueError(
                'SyntheticReferringDataset: relational_only=True and '
                'generalized=True cannot be combined; set one of them.')
        name = f'{split}_n{num_samples}_s{seed}_{image_size}px' + (
            '_relational' if relational_only else '')
        generalized_args = None
        if generalized:
            name += f'_gen-nt{no_target_ratio:g}-mt{multi_target_ratio:g}'
            generalized_args = dict(
                no_target_ratio=no_target_ratio,
                multi_target_ratio=multi_target_ratio)
        folder = osp.join(data_root, name)
        ann_file = osp.join(folder, 'refs.jsonl')
        self.scene_args = (num_samples, seed * 10 + SPLIT_SEEDS[split],
                           image_size, relational_only, generalized_args)
        if not osp.isfile(ann_file):
            self.generate(folder, ann_file, *self.scene_args)
        super().__init__(ann_file='refs.jsonl', data_root=folder, **kwargs)

    def scenes(self) -> list:
        """The scene of every ref, in file order, generated again from
        the dataset's arguments (the same draws that wrote the files): the
        objects with their attributes and positions, and ``target`` (or
        ``targets`` in the generalized mode)."""
        return self.make_scenes(*self.scene_args)

    @staticmethod
    def make_scenes(num, seed, size, relational_only,
                    generalized_args=None) -> list:
        """The scenes :meth:`generate` writes."""
        if generalized_args is None:
            return generate_scenes(
                num, seed=seed, size=size, relational_only=relational_only)
        return generate_generalized_scenes(
            num, seed=seed, size=size, **generalized_args)

    @staticmethod
    def generate(folder,
                 ann_file,
                 num,
                 seed,
                 size,
                 relational_only,
                 generalized_args=None):
        """Write images, masks and the JSON-lines file; with
        ``generalized_args`` (the two ratios), scenes of the generalized
        mode."""
        os.makedirs(osp.join(folder, 'images'), exist_ok=True)
        scenes = SyntheticReferringDataset.make_scenes(
            num, seed, size, relational_only, generalized_args)
        lines = []
        for i, scene in enumerate(scenes):
            img, mask = f'images/{i:06d}.png', f'images/{i:06d}_mask.png'
            if generalized_args is None:
                mask_array = render_mask(scene, scene['target'])
                counts = {}
            else:
                mask_array = render_union(scene, scene['targets'])
                counts = dict(
                    no_target=not scene['targets'],
                    num_targets=len(scene['targets']))
            write_atomic(
                osp.join(folder, img),
                lambda p: cv2.imwrite(p, render_image(scene)))
            write_atomic(
                osp.join(folder, mask),
                lambda p: cv2.imwrite(p, mask_array * 255))
            lines.append(
                json.dumps(
                    dict(image=img, mask=mask, sentences=scene['sentences'],
                         ref_id=i, **counts)))

        def write_lines(path):
            with open(path, 'w', encoding='utf-8') as f:
                f.write('\n'.join(lines) + '\n')

        write_atomic(ann_file, write_lines)
