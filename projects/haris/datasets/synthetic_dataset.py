"""Synthetic referring dataset generated in code (runs anywhere)."""
import json
import os
import os.path as osp

import cv2

from mmseg.registry import DATASETS
from .generic_dataset import GenericReferringDataset
from .synthetic_multi_ref import generate_multi_ref_scenes, refs_of
from .synthetic_scenes import (generate_claim_scenes,
                               generate_generalized_scenes, generate_scenes,
                               render_image, render_mask, render_union)

# Keys of a scene that a line of a mode built for the feedback claim
# records (the generic loader ignores them).
SCENE_KEYS = ('objects', 'target', 'context')

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

    Two modes are built to test the feedback round's claim (that a word
    first attends to every shape it describes and the second round centres
    on the referent). With ``distractor_attributes=True`` every attribute
    word of the expression also describes a distractor and only the
    referent has them all ("the small red circle" among a large red
    circle, a small red square and a small blue circle). With
    ``two_noun=True`` the expression has a head noun and a context noun
    ("the circle left of the red square": several circles, one red square;
    'left of' means the centre is left of the square's centre by more than
    half the largest radius, and every other circle is right of it by as
    much). Their lines also record the scene: ``objects`` (shape, colour,
    size, centre x, y and radius r), ``target`` (the referent's index) and,
    for two nouns, ``context``. Folders ``..._distractor-attrs`` and
    ``..._two-noun``. At most one of ``relational_only``, ``generalized``,
    ``distractor_attributes`` and ``two_noun`` may be set.

    With ``refs_per_image`` > 1, up to that many shapes of a scene are
    refs, each with its own mask and expressions, and all share the
    scene's image (RefCOCO refers to about 2.5 objects per image); the
    refs of a scene are adjacent and ``num_samples`` counts scenes
    (images). Folder ``..._refs<k>``. The one-ref folders are unchanged.

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
        distractor_attributes (bool): Every attribute word also matches a
            distractor. Defaults to False.
        two_noun (bool): Head noun, relation and context noun.
            Defaults to False.
        refs_per_image (int): Most refs of one scene; 1 gives the one-ref
            scenes. Defaults to 1.
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
                 distractor_attributes: bool = False,
                 two_noun: bool = False,
                 refs_per_image: int = 1,
                 **kwargs) -> None:
        if split not in SPLIT_SEEDS:
            raise ValueError(f'Unknown synthetic split {split!r}; use one '
                             f'of {sorted(SPLIT_SEEDS)}.')
        if isinstance(refs_per_image, bool) or not isinstance(
                refs_per_image, int) or refs_per_image < 1:
            raise ValueError(f'refs_per_image must be a whole number >= 1, '
                             f'got {refs_per_image!r}.')
        modes = dict(relational_only=relational_only, generalized=generalized,
                     distractor_attributes=distractor_attributes,
                     two_noun=two_noun, refs_per_image=refs_per_image > 1)
        chosen = [k for k, v in modes.items() if v]
        if len(chosen) > 1:
            raise ValueError(
                'SyntheticReferringDataset: ' +
                ' and '.join('refs_per_image > 1' if k == 'refs_per_image'
                             else f'{k}=True' for k in chosen) +
                ' cannot be combined; set one of them.')
        claim_mode = None
        if distractor_attributes or two_noun:
            claim_mode = chosen[0]
        name = f'{split}_n{num_samples}_s{seed}_{image_size}px' + (
            '_relational' if relational_only else '') + dict(
                distractor_attributes='_distractor-attrs',
                two_noun='_two-noun').get(claim_mode, '') + (
                    f'_refs{refs_per_image}' if refs_per_image > 1 else '')
        generalized_args = None
        if generalized:
            name += f'_gen-nt{no_target_ratio:g}-mt{multi_target_ratio:g}'
            generalized_args = dict(
                no_target_ratio=no_target_ratio,
                multi_target_ratio=multi_target_ratio)
        folder = osp.join(data_root, name)
        ann_file = osp.join(folder, 'refs.jsonl')
        self.scene_args = (num_samples, seed * 10 + SPLIT_SEEDS[split],
                           image_size, relational_only, generalized_args,
                           claim_mode, refs_per_image)
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
                    generalized_args=None, claim_mode=None,
                    refs_per_image=1) -> list:
        """The scenes :meth:`generate` writes, one per ref."""
        if refs_per_image > 1:
            return refs_of(
                generate_multi_ref_scenes(num, seed, size, refs_per_image))
        if claim_mode is not None:
            return generate_claim_scenes(num, seed, claim_mode, size)
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
                 generalized_args=None,
                 claim_mode=None,
                 refs_per_image=1):
        """Write images, masks and the JSON-lines file; with
        ``generalized_args`` (the two ratios), scenes of the generalized
        mode; with ``claim_mode``, scenes of that mode built for the
        feedback claim, whose lines also record the scene."""
        os.makedirs(osp.join(folder, 'images'), exist_ok=True)
        scenes = SyntheticReferringDataset.make_scenes(
            num, seed, size, relational_only, generalized_args, claim_mode,
            refs_per_image)
        lines = []
        last_image = None
        for i, scene in enumerate(scenes):
            img, mask = f'images/{i:06d}.png', f'images/{i:06d}_mask.png'
            if refs_per_image > 1:  # the refs of a scene share its image
                same = last_image is not None and \
                    last_image[1] is scene['objects']
                img = last_image[0] if same else img
            if generalized_args is None:
                mask_array = render_mask(scene, scene['target'])
                counts = {}
                if claim_mode is not None:
                    counts = {k: scene[k] for k in SCENE_KEYS if k in scene}
            else:
                mask_array = render_union(scene, scene['targets'])
                counts = dict(
                    no_target=not scene['targets'],
                    num_targets=len(scene['targets']))
            if last_image is None or last_image[0] != img:
                write_atomic(
                    osp.join(folder, img),
                    lambda p: cv2.imwrite(p, render_image(scene)))
            last_image = (img, scene['objects'])
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
