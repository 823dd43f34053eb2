"""Procedural referring scenes: coloured shapes and expressions that pick
exactly one of them."""
import itertools
from typing import Dict, List, Optional

import cv2
import numpy as np

COLOURS = {  # RGB
    'red': (220, 40, 40),
    'green': (40, 170, 60),
    'blue': (40, 80, 220),
    'yellow': (230, 200, 30),
}
SHAPES = ('circle', 'square', 'triangle')
SIZES = {'small': 0.09, 'large': 0.16}  # radius as a fraction of the side
DIRECTIONS = {  # word -> (axis, sign): extreme along x (0) or y (1)
    'left': (0, -1),
    'right': (0, 1),
    'top': (1, -1),
    'bottom': (1, 1),
}
ATTRIBUTE_SETS = (('shape', ), ('colour', 'shape'), ('size', 'shape'),
                  ('size', 'colour', 'shape'))


def draw_object(canvas: np.ndarray, obj: dict, value) -> None:
    """Draw one object (filled) on ``canvas`` in place with ``value``."""
    cx, cy, r = obj['x'], obj['y'], obj['r']
    if obj['shape'] == 'circle':
        cv2.circle(canvas, (cx, cy), r, value, -1)
    elif obj['shape'] == 'square':
        cv2.rectangle(canvas, (cx - r, cy - r), (cx + r, cy + r), value, -1)
    else:
        pts = np.array([[cx, cy - r], [cx - r, cy + r], [cx + r, cy + r]],
                       np.int32)
        cv2.fillPoly(canvas, [pts], value)


def render_image(scene: dict) -> np.ndarray:
    """(H, W, 3) uint8 BGR image of the scene, with mild noise."""
    size = scene['size']
    rng = np.random.default_rng(scene['noise_seed'])
    img = np.full((size, size, 3), 235, np.uint8)
    img = np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
    for obj in scene['objects']:
        draw_object(img, obj, COLOURS[obj['colour']][::-1])
    return img


def render_mask(scene: dict, index: int) -> np.ndarray:
    """(H, W) uint8 mask of object ``index`` (objects never overlap)."""
    mask = np.zeros((scene['size'], scene['size']), np.uint8)
    draw_object(mask, scene['objects'][index], 1)
    return mask


def noun_phrase(obj: dict, attrs) -> str:
    words = [obj[a] for a in ('size', 'colour') if a in attrs]
    return ' '.join(words + [obj['shape'] if 'shape' in attrs else 'shape'])


def describe(objects: List[dict], target: int,
             relational_only: bool = False) -> List[str]:
    """All expressions that refer to ``objects[target]`` and no other."""
    obj = objects[target]

    def matches(other, attrs):
        return all(other[a] == obj[a] for a in attrs if a != 'shape') and (
            'shape' not in attrs or other['shape'] == obj['shape'])

    found = []
    for attrs in ATTRIBUTE_SETS:
        group = [o for o in objects if matches(o, attrs)]
        if len(group) == 1 and not relational_only:
            found.append(f'the {noun_phrase(obj, attrs)}')
        if len(group) < 2:
            continue
        for word, (axis, sign) in DIRECTIONS.items():
            key = 'x' if axis == 0 else 'y'
            others = [sign * o[key] for o in group if o is not obj]
            margin = scene_margin(objects)
            if sign * obj[key] > max(others) + margin:
                side = f'on the {word}' if axis == 0 else f'at the {word}'
                found.append(f'the {noun_phrase(obj, attrs)} {side}')
    return found


def scene_margin(objects: List[dict]) -> float:
    """Minimum gap (pixels) for a spatial word to count as unambiguous."""
    return max(o['r'] for o in objects) * 0.5


def make_scene(rng: np.random.Generator,
               size: int = 96,
               num_objects=(2, 4),
               relational_only: bool = False,
               max_sentences: int = 3) -> Optional[Dict]:
    """One scene with a target and its expressions, or None if the draw
    gave no unambiguous expression (the caller draws again)."""
    n = int(rng.integers(num_objects[0], num_objects[1] + 1))
    objects: List[dict] = []
    for _ in range(n * 20):
        if len(objects) == n:
            break
        obj = dict(
            shape=str(rng.choice(SHAPES)),
            colour=str(rng.choice(list(COLOURS))),
            size=str(rng.choice(list(SIZES))))
        if relational_only and objects:
            obj.update({k: objects[0][k] for k in ('shape', 'colour')})
        r = max(2, int(SIZES[obj['size']] * size))
        obj.update(
            r=r,
            x=int(rng.integers(r + 1, size - r - 1)),
            y=int(rng.integers(r + 1, size - r - 1)))
        if all((obj['x'] - o['x'])**2 + (obj['y'] - o['y'])**2 >
               (obj['r'] + o['r'] + 3)**2 * 2 for o in objects):
            objects.append(obj)
    if len(objects) < 2:
        return None
    target = int(rng.integers(len(objects)))
    sentences = describe(objects, target, relational_only)
    if not sentences:
        return None
    order = rng.permutation(len(sentences))[:max_sentences]
    return dict(
        size=size,
        objects=objects,
        target=target,
        sentences=[sentences[i] for i in order],
        noise_seed=int(rng.integers(2**31)))


def generate_scenes(num: int, seed: int, **kwargs) -> List[dict]:
    """``num`` scenes, deterministic in ``seed``; scene i depends only on
    (seed, i)."""
    scenes = []
    for i in range(num):
        rng = np.random.default_rng([seed, i])
        scene = None
        for _ in itertools.count():
            scene = make_scene(rng, **kwargs)
            if scene is not None:
                break
        scenes.append(scene)
    return scenes
