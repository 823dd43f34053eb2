"""Write a refer-format index of RefCOCO's size and splits, without RefCOCO.

The files are what ``RefCocoDataset`` reads (``refcoco/refs(unc).p``,
``refcoco/instances.json``, ``coco/train2014/*.jpg``) with RefCOCO's UNC
numbers of images, refs and sentences per split, random polygons inside
the images and made-up sentences: for measuring loading, memory and
evaluation at full scale, not for training a model.

Usage:
    python tools/dataset_converters/make_refcoco_sized.py \
        --out data/refcoco_sized [--scale 0.01] [--seed 0]

Then point a RefCOCO config at it:
``--cfg-options train_dataloader.dataset.data_root=data/refcoco_sized``
(and the same for val/test).

Distributions (all drawn from ``--seed``):

- refs per image: 1 + Multinomial(R - N, uniform over the N images) of a
  split's N images and R refs (each image 1 + Binomial(R - N, 1 / N),
  about 1 + Poisson(R / N - 1)); the mean is exactly R / N (train 2.50).
- sentences per ref: floor(S / R) or that plus one, so a split has exactly
  its S sentences (RefCOCO's refs have mostly 2 or 3).
- images: each image file is a hard link (a symbolic link where the file
  system has none) to one of a few shared JPEGs of COCO's common sizes
  (640x480, 480x640, 640x427, 427x640, 500x375, 640x360), in
  ``coco/shared/``: 20k image entries cost a few hundred KB.
- one annotation per ref (its referred object): a star-shaped polygon of
  6-16 points inside the image, a second part for one in ten; testA refs
  are people (COCO category 1) and testB refs other objects, as in
  RefCOCO.
"""
import argparse
import json
import os
import os.path as osp
import pickle
import random
from typing import Dict, List, Sequence, Union

import numpy as np
from pycocotools import mask as mask_utils

# RefCOCO (UNC partition): images, refs, sentences per split.
REFCOCO_SPLITS = dict(
    train=dict(images=16994, refs=42404, sentences=120624),
    val=dict(images=1500, refs=3811, sentences=10834),
    testA=dict(images=750, refs=1975, sentences=5657),
    testB=dict(images=750, refs=1810, sentences=5095),
)
# (width, height) of the shared images: COCO's most common sizes
IMAGE_SIZES = ((640, 480), (480, 640), (640, 427), (427, 640), (500, 375),
               (640, 360))
PERSON = 1
OBJECTS = {
    2: 'bicycle', 3: 'car', 17: 'cat', 18: 'dog', 19: 'horse', 21: 'cow',
    22: 'elephant', 23: 'bear', 24: 'zebra', 25: 'giraffe', 44: 'bottle',
    47: 'cup', 51: 'bowl', 53: 'apple', 56: 'broccoli', 59: 'pizza',
    61: 'cake', 62: 'chair', 63: 'couch', 67: 'dining table', 72: 'tv',
    73: 'laptop'
}
PEOPLE = ('man', 'woman', 'guy', 'lady', 'kid', 'person', 'girl', 'boy')
WORDS = ('left', 'right', 'middle', 'front', 'back', 'big', 'small', 'white',
         'black', 'red', 'blue', 'far', 'closest', 'top', 'bottom')


def refs_per_image_counts(num_images: int, num_refs: int,
                          seed: Union[int, Sequence[int]]) -> List[int]:
    """Refs on each of ``num_images`` images, ``num_refs`` in all.

    Every image has at least one ref; the other ``num_refs - num_images``
    fall on images uniformly at random (a multinomial), so an image has
    1 + Binomial(num_refs - num_images, 1 / num_images) refs and the mean
    is exactly ``num_refs / num_images``.

    Args:
        num_images (int): Number of images, at least 1.
        num_refs (int): Number of refs, at least ``num_images``.
        seed (int | Sequence[int]): Seed of numpy's ``default_rng``.

    Returns:
        list[int]: One count per image, summing to ``num_refs``.
    """
    if num_images < 1 or num_refs < num_images:
        raise ValueError(
            f'refs_per_image_counts(num_images={num_images}, num_refs='
            f'{num_refs}): need at least one image and at least one ref '
            'per image (num_refs >= num_images >= 1).')
    rng = np.random.default_rng(seed)
    extra = rng.multinomial(num_refs - num_images,
                            np.full(num_images, 1.0 / num_images))
    return (1 + extra).tolist()


def sentences_per_ref_counts(num_refs: int, num_sentences: int,
                             rng: random.Random) -> List[int]:
    """Sentences of each ref: floor(S / R) or one more, S in all, in a
    random order."""
    if num_refs < 1 or num_sentences < num_refs:
        raise ValueError(
            f'{num_sentences} sentences cannot be shared by {num_refs} refs '
            'with at least one sentence each.')
    low, more = divmod(num_sentences, num_refs)
    counts = [low + 1] * more + [low] * (num_refs - more)
    rng.shuffle(counts)
    return counts


def split_sizes(scale: float = 1.0) -> Dict[str, Dict[str, int]]:
    """RefCOCO's numbers per split times ``scale`` (rounded, at least one
    image, one ref per image and one sentence per ref)."""
    if not 0 < scale <= 1:
        raise ValueError(f'--scale {scale}: give a number in (0, 1], e.g. '
                         '0.01 for a copy with 1% of the refs.')
    sizes = {}
    for split, full in REFCOCO_SPLITS.items():
        images = max(1, round(full['images'] * scale))
        refs = max(images, round(full['refs'] * scale))
        sentences = max(refs, round(full['sentences'] * scale))
        sizes[split] = dict(images=images, refs=refs, sentences=sentences)
    return sizes


def plan_index(scale: float = 1.0, seed: int = 0) -> Dict[str, dict]:
    """What :func:`write_index` writes, as counts only (cheap at full
    scale): per split, the refs of each image and the sentences of each
    ref, in image order."""
    plan = {}
    for i, (split, size) in enumerate(split_sizes(scale).items()):
        refs_per_image = refs_per_image_counts(size['images'], size['refs'],
                                               [seed, i])
        sentences_per_ref = sentences_per_ref_counts(
            size['refs'], size['sentences'], random.Random(f'{seed}-{i}'))
        plan[split] = dict(
            refs_per_image=refs_per_image,
            sentences_per_ref=sentences_per_ref)
    return plan


def polygon(rng: random.Random, width: int, height: int) -> List[float]:
    """A star-shaped polygon (flat x, y list) inside the image."""
    cx = rng.uniform(0.2, 0.8) * (width - 1)
    cy = rng.uniform(0.2, 0.8) * (height - 1)
    room = min(cx, width - 1 - cx, cy, height - 1 - cy)
    radius = rng.uniform(0.3, 1.0) * room
    num = rng.randint(6, 16)
    angles = sorted(rng.uniform(0, 2 * np.pi) for _ in range(num))
    points = []
    for angle in angles:
        r = radius * rng.uniform(0.6, 1.0)
        points += [round(cx + r * np.cos(angle), 2),
                   round(cy + r * np.sin(angle), 2)]
    return points


def annotation(rng: random.Random, ann_id: int, image: dict,
               category_id: int) -> dict:
    """A COCO instance annotation with one or two polygon parts."""
    parts = [polygon(rng, image['width'], image['height'])
             for _ in range(2 if rng.random() < 0.1 else 1)]
    xs = [v for p in parts for v in p[0::2]]
    ys = [v for p in parts for v in p[1::2]]
    return dict(
        id=ann_id,
        image_id=image['id'],
        category_id=category_id,
        segmentation=parts,
        # COCO's area: pixels of the union of the parts
        area=float(
            mask_utils.area(
                mask_utils.merge(
                    mask_utils.frPyObjects(parts, image['height'],
                                           image['width'])))),
        bbox=[min(xs), min(ys), round(max(xs) - min(xs), 2),
              round(max(ys) - min(ys), 2)],
        iscrowd=0)


def sentence(rng: random.Random, category_id: int) -> List[str]:
    """Tokens of a short expression naming the category (RefCOCO's average
    is 3.6 words)."""
    noun = rng.choice(PEOPLE) if category_id == PERSON \
        else OBJECTS[category_id]
    words = rng.sample(WORDS, rng.randint(0, 3))
    tokens = words[:1] + noun.split() + words[1:]
    if rng.random() < 0.3:
        tokens += ['on', 'the', rng.choice(('left', 'right'))]
    return tokens


def category_of(rng: random.Random, split: str) -> int:
    """testA names people, testB other objects, train and val both."""
    if split == 'testA' or (split != 'testB' and rng.random() < 0.5):
        return PERSON
    return rng.choice(sorted(OBJECTS))


def build_index(plan: Dict[str, dict], seed: int = 0):
    """The refs list, the instances dict and each image's shared-file
    index, from a :func:`plan_index` plan."""
    rng = random.Random(f'{seed}-index')
    num_images = sum(len(p['refs_per_image']) for p in plan.values())
    image_ids = rng.sample(range(1, 600000), num_images)
    images, annotations, refs, shared = [], [], [], []
    for split, counts in plan.items():
        sentences_per_ref = iter(counts['sentences_per_ref'])
        for num_refs in counts['refs_per_image']:
            kind = rng.randrange(len(IMAGE_SIZES))
            width, height = IMAGE_SIZES[kind]
            image_id = image_ids[len(images)]
            image = dict(
                id=image_id,
                file_name=f'COCO_train2014_{image_id:012d}.jpg',
                height=height,
                width=width)
            images.append(image)
            shared.append(kind)
            for _ in range(num_refs):
                ann_id = len(annotations) + 1
                category_id = category_of(rng, split)
                annotations.append(
                    annotation(rng, ann_id, image, category_id))
                sentences = []
                for _ in range(next(sentences_per_ref)):
                    tokens = sentence(rng, category_id)
                    sent = ' '.join(tokens)
                    raw = sent.capitalize() if rng.random() < 0.5 else sent
                    sentences.append(dict(tokens=tokens, raw=raw, sent=sent))
                refs.append(
                    dict(
                        image_id=image_id,
                        split=split,
                        sentences=sentences,
                        file_name=f'COCO_train2014_{image_id:012d}_'
                        f'{ann_id}.jpg',
                        category_id=category_id,
                        ann_id=ann_id))
    # the refer toolkit's file is not grouped by image
    rng.shuffle(refs)
    sent_id = 0
    for ref_id, ref in enumerate(refs):
        ref['ref_id'] = ref_id
        ref['sent_ids'] = []
        for sent in ref['sentences']:
            sent['sent_id'] = sent_id
            ref['sent_ids'].append(sent_id)
            sent_id += 1
    categories = [dict(id=PERSON, name='person', supercategory='person')] + [
        dict(id=i, name=name, supercategory='object')
        for i, name in sorted(OBJECTS.items())
    ]
    instances = dict(
        images=images, annotations=annotations, categories=categories)
    return refs, instances, shared


def write_shared_images(folder: str, seed: int) -> List[str]:
    """One photo-like JPEG (blurred noise, about the file size of a COCO
    photo) per size of ``IMAGE_SIZES``."""
    import cv2
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for width, height in IMAGE_SIZES:
        img = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
        img = cv2.GaussianBlur(img, (9, 9), 3)
        path = osp.join(folder, f'{width}x{height}.jpg')
        cv2.imwrite(path, img)
        paths.append(path)
    return paths


def link(src: str, dst: str) -> None:
    """``dst`` as a hard link to ``src``, or a relative symbolic link where
    the file system has no hard links."""
    if osp.lexists(dst):
        os.remove(dst)
    try:
        os.link(src, dst)
    except OSError:
        os.symlink(osp.relpath(src, osp.dirname(dst)), dst)


def write_index(out: str, scale: float = 1.0, seed: int = 0) -> dict:
    """Write ``refcoco/refs(unc).p``, ``refcoco/instances.json`` and the
    images of ``coco/train2014`` under ``out``.

    Returns:
        dict: The numbers of images, refs, annotations and sentences per
        split.
    """
    plan = plan_index(scale, seed)
    refs, instances, shared = build_index(plan, seed)
    sources = write_shared_images(osp.join(out, 'coco', 'shared'), seed)
    image_dir = osp.join(out, 'coco', 'train2014')
    os.makedirs(image_dir, exist_ok=True)
    for image, kind in zip(instances['images'], shared):
        link(sources[kind], osp.join(image_dir, image['file_name']))
    os.makedirs(osp.join(out, 'refcoco'), exist_ok=True)
    with open(osp.join(out, 'refcoco', 'instances.json'), 'w') as f:
        json.dump(instances, f)
    with open(osp.join(out, 'refcoco', 'refs(unc).p'), 'wb') as f:
        pickle.dump(refs, f)
    return summary(plan)


def summary(plan: Dict[str, dict]) -> dict:
    """Images, refs and sentences per split of a plan, and the totals."""
    counts = {
        split: dict(
            images=len(p['refs_per_image']),
            refs=sum(p['refs_per_image']),
            sentences=sum(p['sentences_per_ref']))
        for split, p in plan.items()
    }
    counts['total'] = {
        key: sum(c[key] for c in counts.values())
        for key in ('images', 'refs', 'sentences')
    }
    # one annotation (referred object) per ref
    counts['total']['annotations'] = counts['total']['refs']
    return counts


def parse_args():
    parser = argparse.ArgumentParser(
        description='Write a refer-format index of RefCOCO\'s size and '
        'splits (random polygons and sentences) for measuring loading, '
        'memory and evaluation at scale.')
    parser.add_argument(
        '--out', required=True,
        help='folder to write refcoco/ and coco/ into (the data_root)')
    parser.add_argument(
        '--scale', type=float, default=1.0,
        help='fraction of RefCOCO\'s numbers, e.g. 0.01 for a small copy '
        '(default 1: 19,994 images, 50,000 refs, 142,210 sentences)')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    return parser.parse_args()


def main():
    args = parse_args()
    counts = write_index(args.out, args.scale, args.seed)
    print(json.dumps(counts, indent=2))


if __name__ == '__main__':
    main()
