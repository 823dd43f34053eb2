"""Procedural referring scenes: coloured shapes and expressions that pick
exactly one of them, or, in the generalized mode, none or several."""
import itertools
from typing import Dict, List, Optional, Tuple

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
# Generalized mode: attribute sets naming a group ("all the red shapes").
GROUP_ATTRIBUTE_SETS = (('colour', ), ('shape', ), ('size', ),
                        ('colour', 'shape'), ('size', 'shape'),
                        ('size', 'colour'), ('size', 'colour', 'shape'))
VOCABULARY = dict(colour=tuple(COLOURS), shape=SHAPES, size=tuple(SIZES))
PLURALS = dict(circle='circles', square='squares', triangle='triangles',
               shape='shapes')
COUNT_WORDS = {2: 'two', 3: 'three', 4: 'four', 5: 'five', 6: 'six'}
SCENE_KINDS = ('no_target', 'single', 'multi')


def shape_mask(obj: dict, height: int, width: int) -> np.ndarray:
    """(height, width) bool mask of one object, computed with integer
    arithmetic only, so every NumPy gives the same pixels (OpenCV's
    polygon filling changed between versions: 4.8 and 4.11 fill a small
    triangle's right edge differently).

    Pixel (x, y) covers the unit cell [x, x + 1) x [y, y + 1). A circle
    takes the pixels within ``r`` of its centre, a square the pixels within
    ``r`` along both axes. The triangle (apex at (cx, cy - r), base from
    (cx - r, cy + r) to (cx + r, cy + r)) takes in row y the pixels whose
    cell meets its cross-section [cx - h / 2, cx + h / 2] at that row's
    height, h = y - (cy - r). These are the pixels OpenCV 4.11 draws with
    ``cv2.circle``, ``cv2.rectangle`` and ``cv2.fillPoly``.
    """
    cx, cy, r = obj['x'], obj['y'], obj['r']
    ys, xs = np.ogrid[:height, :width]
    if obj['shape'] == 'circle':
        return (xs - cx)**2 + (ys - cy)**2 <= r * r
    if obj['shape'] == 'square':
        return (abs(xs - cx) <= r) & (abs(ys - cy) <= r)
    h = ys - (cy - r)  # (height, 1) height below the apex
    # x <= cx + h / 2 and x + 1 > cx - h / 2, doubled to stay in integers
    return ((h >= 0) & (h <= 2 * r) & (2 * xs <= 2 * cx + h)
            & (2 * xs + 2 > 2 * cx - h))


def draw_object(canvas: np.ndarray, obj: dict, value) -> None:
    """Draw one object (filled) on ``canvas`` in place with ``value`` (a
    scalar, or a colour for an (H, W, C) canvas)."""
    canvas[shape_mask(obj, *canvas.shape[:2])] = value


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


def render_union(scene: dict, indices) -> np.ndarray:
    """(H, W) uint8 mask of the objects ``indices``; all zeros for none."""
    mask = np.zeros((scene['size'], scene['size']), np.uint8)
    for index in indices:
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


def place_objects(rng: np.random.Generator,
                  size: int = 96,
                  num_objects=(2, 4),
                  relational_only: bool = False) -> List[dict]:
    """Between ``num_objects[0]`` and ``num_objects[1]`` non-overlapping
    objects (fewer if the draws do not fit)."""
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
    return objects


def make_scene(rng: np.random.Generator,
               size: int = 96,
               num_objects=(2, 4),
               relational_only: bool = False,
               max_sentences: int = 3) -> Optional[Dict]:
    """One scene with a target and its expressions, or None if the draw
    gave no unambiguous expression (the caller draws again)."""
    objects = place_objects(rng, size, num_objects, relational_only)
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


def attribute_phrase(values: dict, plural: bool = False) -> str:
    """'small red circle' (or 'small red circles') from attribute values;
    the noun is 'shape(s)' when no shape is given."""
    words = [values[a] for a in ('size', 'colour') if a in values]
    noun = values.get('shape', 'shape')
    return ' '.join(words + [PLURALS[noun] if plural else noun])


def select(objects: List[dict], values: dict) -> List[int]:
    """Indices of the objects having every attribute value in ``values``."""
    return [
        i for i, o in enumerate(objects)
        if all(o[a] == v for a, v in values.items())
    ]


def describe_groups(objects: List[dict]) -> Dict[Tuple[int, ...], List[str]]:
    """Expressions naming several objects ('all the red shapes', 'the two
    circles', 'the three small shapes'), keyed by the indices of exactly
    the objects they name. Groups of every object are left out."""
    groups: Dict[Tuple[int, ...], List[str]] = {}
    for attrs in GROUP_ATTRIBUTE_SETS:
        seen = []
        for obj in objects:
            values = {a: obj[a] for a in attrs}
            if values in seen:
                continue
            seen.append(values)
            members = tuple(select(objects, values))
            if not 2 <= len(members) < len(objects):
                continue
            phrase = attribute_phrase(values, plural=True)
            groups.setdefault(members, []).extend([
                f'all the {phrase}',
                f'the {COUNT_WORDS[len(members)]} {phrase}'
            ])
    return groups


def describe_absent(objects: List[dict]) -> List[dict]:
    """Every attribute combination (of ``ATTRIBUTE_SETS``) that no object
    in the scene has, e.g. dict(colour='blue', shape='triangle')."""
    absent = []
    for attrs in ATTRIBUTE_SETS:
        for combo in itertools.product(*(VOCABULARY[a] for a in attrs)):
            values = dict(zip(attrs, combo))
            if not select(objects, values):
                absent.append(values)
    return absent


def no_target_sentence(rng: np.random.Generator, values: dict) -> str:
    """A sentence for an absent combination, in one of the forms that
    name objects elsewhere: 'the blue triangle', 'the blue triangle on the
    left', 'all the blue triangles'."""
    form = int(rng.integers(3))
    if form == 0:
        return f'the {attribute_phrase(values)}'
    if form == 1:
        word = list(DIRECTIONS)[int(rng.integers(len(DIRECTIONS)))]
        side = f'on the {word}' if DIRECTIONS[word][0] == 0 \
            else f'at the {word}'
        return f'the {attribute_phrase(values)} {side}'
    return f'all the {attribute_phrase(values, plural=True)}'


def make_generalized_scene(rng: np.random.Generator,
                           kind: str,
                           size: int = 96,
                           num_objects=(2, 4),
                           max_sentences: int = 3) -> Optional[Dict]:
    """One scene whose expressions name no object (``kind='no_target'``),
    exactly one (``'single'``, as :func:`make_scene`) or several
    (``'multi'``), or None if the draw gave none (the caller draws again).
    ``targets`` lists the indices of the named objects."""
    if kind == 'single':
        scene = make_scene(
            rng, size=size, num_objects=num_objects,
            max_sentences=max_sentences)
        if scene is not None:
            scene.update(kind=kind, targets=[scene['target']])
        return scene
    objects = place_objects(rng, size, num_objects)
    if len(objects) < 2:
        return None
    if kind == 'multi':
        groups = describe_groups(objects)
        if not groups:
            return None
        targets = list(groups)[int(rng.integers(len(groups)))]
        sentences = groups[targets]
        order = rng.permutation(len(sentences))[:max_sentences]
        sentences = [sentences[i] for i in order]
    elif kind == 'no_target':
        absent = describe_absent(objects)
        order = rng.permutation(len(absent))[:max_sentences]
        sentences = [no_target_sentence(rng, absent[i]) for i in order]
        targets = ()
    else:
        raise ValueError(f'Unknown scene kind {kind!r}; expected one of '
                         f'{SCENE_KINDS}.')
    return dict(
        size=size,
        objects=objects,
        kind=kind,
        targets=list(targets),
        sentences=sentences,
        noise_seed=int(rng.integers(2**31)))


def generate_generalized_scenes(num: int,
                                seed: int,
                                no_target_ratio: float = 0.1,
                                multi_target_ratio: float = 0.25,
                                **kwargs) -> List[dict]:
    """``num`` scenes of the generalized mode, deterministic in ``seed``
    (scene i depends only on (seed, i)); each scene is no-target with
    probability ``no_target_ratio``, multi-target with probability
    ``multi_target_ratio``, else single-target."""
    for name, ratio in (('no_target_ratio', no_target_ratio),
                        ('multi_target_ratio', multi_target_ratio)):
        if not 0 <= ratio <= 1:
            raise ValueError(f'{name}={ratio} must be within [0, 1].')
    if no_target_ratio + multi_target_ratio > 1:
        raise ValueError(
            f'no_target_ratio ({no_target_ratio}) + multi_target_ratio '
            f'({multi_target_ratio}) exceed 1; the rest are single-target '
            'scenes.')
    scenes = []
    for i in range(num):
        rng = np.random.default_rng([seed, i])
        draw = rng.random()
        kind = 'no_target' if draw < no_target_ratio else (
            'multi' if draw < no_target_ratio + multi_target_ratio else
            'single')
        scene = None
        while scene is None:
            scene = make_generalized_scene(rng, kind, **kwargs)
        scenes.append(scene)
    return scenes


# ---- splits built for the feedback claim ---------------------------------
# Attribute sets of the distractor-attribute mode: each has a shape noun
# and at least two words, so every word can match a distractor while only
# the referent matches all of them.
CLAIM_ATTRIBUTE_SETS = (('colour', 'shape'), ('size', 'shape'),
                        ('size', 'colour', 'shape'))
# Two-noun mode: relation words -> (axis, sign), 'A left of B' when A's
# centre is left of B's by more than the scene margin.
RELATIONS = {
    'left of': (0, -1),
    'right of': (0, 1),
    'above': (1, -1),
    'below': (1, 1),
}
CLAIM_MODES = ('distractor_attributes', 'two_noun')


def place_given(rng: np.random.Generator, specs: List[dict],
                size: int = 96) -> Optional[List[dict]]:
    """Objects with the given attributes (dicts of shape, colour, size) at
    random positions, keeping the gap :func:`place_objects` keeps; None if
    one of them does not fit after 50 draws."""
    objects: List[dict] = []
    for spec in specs:
        r = max(2, int(SIZES[spec['size']] * size))
        for _ in range(50):
            obj = dict(
                shape=spec['shape'], colour=spec['colour'],
                size=spec['size'], r=r,
                x=int(rng.integers(r + 1, size - r - 1)),
                y=int(rng.integers(r + 1, size - r - 1)))
            if all((obj['x'] - o['x'])**2 + (obj['y'] - o['y'])**2 >
                   (obj['r'] + o['r'] + 3)**2 * 2 for o in objects):
                objects.append(obj)
                break
        else:
            return None
    return objects


def other_value(rng: np.random.Generator, attr: str, value: str) -> str:
    """A value of ``attr`` other than ``value``."""
    choices = [v for v in VOCABULARY[attr] if v != value]
    return str(rng.choice(choices))


def random_attributes(rng: np.random.Generator) -> dict:
    return dict(
        shape=str(rng.choice(SHAPES)),
        colour=str(rng.choice(list(COLOURS))),
        size=str(rng.choice(list(SIZES))))


def shuffled(rng: np.random.Generator, specs: List[dict], *named: int):
    """``specs`` in a random order and the new positions of the specs at
    indices ``named``."""
    order = [int(i) for i in rng.permutation(len(specs))]
    return [specs[i] for i in order], [order.index(i) for i in named]


def make_distractor_scene(rng: np.random.Generator,
                          size: int = 96) -> Optional[Dict]:
    """A scene where every attribute word of the expression also matches
    a distractor and only the referent matches all of them: for 'the small
    red circle', a large red circle, a small red square and a small blue
    circle. For each word of the expression there is one distractor that
    differs from the referent in that attribute only (among the named
    ones; unnamed attributes are random). None if the draw did not fit
    (the caller draws again)."""
    attrs = CLAIM_ATTRIBUTE_SETS[int(rng.integers(len(CLAIM_ATTRIBUTE_SETS)))]
    target = random_attributes(rng)
    specs = [target]
    for attr in attrs:
        distractor = random_attributes(rng)
        distractor.update({a: target[a] for a in attrs})
        distractor[attr] = other_value(rng, attr, target[attr])
        specs.append(distractor)
    specs, (index, ) = shuffled(rng, specs, 0)
    objects = place_given(rng, specs, size)
    if objects is None:
        return None
    return dict(
        size=size,
        objects=objects,
        target=index,
        attributes=list(attrs),
        sentences=[f'the {noun_phrase(target, attrs)}'],
        noise_seed=int(rng.integers(2**31)))


def relation_side(obj: dict, other: dict, relation: str,
                  margin: float) -> int:
    """1 if ``obj`` is ``relation`` ``other`` by more than ``margin``
    pixels (centre to centre along the relation's axis), -1 if it is
    clearly on the opposite side (by more than ``margin``), 0 between."""
    axis, sign = RELATIONS[relation]
    key = 'x' if axis == 0 else 'y'
    offset = sign * (obj[key] - other[key])
    return 1 if offset > margin else (-1 if offset < -margin else 0)


def describe_two_noun(objects: List[dict], target: int,
                      context: int) -> List[str]:
    """Expressions 'the circle left of the red square' naming
    ``objects[target]`` by its shape and its relation to
    ``objects[context]``, named by colour and shape. One is given only
    when the context phrase names exactly one object, the head noun names
    several, the context's shape differs from the head noun, the referent
    is on the relation's side of the context by more than the scene margin
    and every other object of the head's shape is on the opposite side by
    more than the margin."""
    head, ctx = objects[target], objects[context]
    if head['shape'] == ctx['shape'] or len(
            select(objects, dict(colour=ctx['colour'],
                                 shape=ctx['shape']))) != 1:
        return []
    same = [o for i, o in enumerate(objects)
            if o['shape'] == head['shape'] and i != target]
    if not same:
        return []
    margin = scene_margin(objects)
    return [
        f'the {head["shape"]} {relation} the {ctx["colour"]} {ctx["shape"]}'
        for relation in RELATIONS
        if relation_side(head, ctx, relation, margin) == 1 and all(
            relation_side(o, ctx, relation, margin) == -1 for o in same)
    ]


def make_two_noun_scene(rng: np.random.Generator,
                        size: int = 96,
                        max_sentences: int = 3) -> Optional[Dict]:
    """A scene with a referent, a context object of another shape, one or
    two more objects of the referent's shape and possibly one more object,
    whose expressions name the referent by its shape and its relation to
    the context (:func:`describe_two_noun`). None if the draw gave no such
    expression (the caller draws again)."""
    target = random_attributes(rng)
    context = random_attributes(rng)
    context['shape'] = other_value(rng, 'shape', target['shape'])
    specs = [target, context]
    for _ in range(int(rng.integers(1, 3))):
        specs.append(dict(random_attributes(rng), shape=target['shape']))
    if rng.random() < 0.5:
        extra = random_attributes(rng)
        extra['shape'] = other_value(rng, 'shape', target['shape'])
        specs.append(extra)
    specs, (index, ctx_index) = shuffled(rng, specs, 0, 1)
    objects = place_given(rng, specs, size)
    if objects is None:
        return None
    sentences = describe_two_noun(objects, index, ctx_index)
    if not sentences:
        return None
    order = rng.permutation(len(sentences))[:max_sentences]
    return dict(
        size=size,
        objects=objects,
        target=index,
        context=ctx_index,
        sentences=[sentences[i] for i in order],
        noise_seed=int(rng.integers(2**31)))


def generate_claim_scenes(num: int, seed: int, mode: str,
                          size: int = 96) -> List[dict]:
    """``num`` scenes of a mode built for the feedback claim
    (``'distractor_attributes'`` or ``'two_noun'``), deterministic in
    ``seed``; scene i depends only on (seed, i)."""
    makers = dict(distractor_attributes=make_distractor_scene,
                  two_noun=make_two_noun_scene)
    if mode not in makers:
        raise ValueError(f'Unknown scene mode {mode!r}; expected one of '
                         f'{CLAIM_MODES}.')
    scenes = []
    for i in range(num):
        rng = np.random.default_rng([seed, i])
        for _ in range(1000):
            scene = makers[mode](rng, size=size)
            if scene is not None:
                break
        else:
            raise ValueError(
                f'{mode} scenes do not fit in {size}x{size} images (1000 '
                'draws failed); use larger images (image_size 64 or 96 as '
                'in the synthetic configs).')
        scenes.append(scene)
    return scenes
