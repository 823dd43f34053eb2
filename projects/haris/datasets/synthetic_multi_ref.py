"""Synthetic scenes in which several shapes are referred to, as RefCOCO
refers to about 2.5 objects per image."""
import itertools
from typing import Dict, List, Optional

import numpy as np

from .synthetic_scenes import describe, place_objects

# a random stream of its own, so the one-ref scenes stay as they are
STREAM = 7


def make_multi_ref_scene(rng: np.random.Generator,
                         size: int,
                         max_refs: int,
                         max_sentences: int = 3) -> Optional[Dict]:
    """One scene whose refs are up to ``max_refs`` of its shapes (each with
    expressions that fit it and no other shape), or None if no shape can
    be named unambiguously (the caller draws again)."""
    objects = place_objects(rng, size)
    if len(objects) < 2:
        return None
    refs = []
    for target in rng.permutation(len(objects)).tolist():
        sentences = describe(objects, target)
        if sentences and len(refs) < max_refs:
            order = rng.permutation(len(sentences))[:max_sentences]
            refs.append(dict(target=target,
                             sentences=[sentences[i] for i in order]))
    if not refs:
        return None
    return dict(size=size, objects=objects, refs=refs,
                noise_seed=int(rng.integers(2**31)))


def generate_multi_ref_scenes(num: int, seed: int, size: int,
                              max_refs: int) -> List[dict]:
    """``num`` scenes (images), deterministic in ``seed``; scene i depends
    only on (seed, i)."""
    scenes = []
    for i in range(num):
        rng = np.random.default_rng([seed, i, STREAM])
        for _ in itertools.count():
            scene = make_multi_ref_scene(rng, size, max_refs)
            if scene is not None:
                break
        scenes.append(scene)
    return scenes


def refs_of(scenes: List[dict]) -> List[dict]:
    """One scene dict per ref (its ``target`` and ``sentences``), in file
    order, as the one-ref modes describe their scenes."""
    out = []
    for scene in scenes:
        for ref in scene['refs']:
            out.append(dict(size=scene['size'], objects=scene['objects'],
                            noise_seed=scene['noise_seed'], **ref))
    return out
