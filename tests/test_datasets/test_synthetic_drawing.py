"""The synthetic shapes are rasterised by the package, pixel for pixel the
same on every supported stack (OpenCV's polygon filling changed between
4.8 and 4.11), so the demo data and its figures do not depend on it."""
import cv2
import numpy as np
import pytest

from projects.haris.datasets.synthetic_scenes import (draw_object,
                                                      generate_scenes,
                                                      render_image,
                                                      render_mask)

# Each shape with r=3 centred at (4, 4) on a 9 x 10 canvas, drawn by hand:
# the circle takes the pixels with dx^2 + dy^2 <= 9, the square those with
# |dx|, |dy| <= 3, the triangle (apex (4, 1), base (1, 7)-(7, 7)) in row y
# the pixels whose cell [x, x + 1) meets [4 - h / 2, 4 + h / 2], h = y - 1.
EXPECTED = dict(
    circle="""
        0000000000
        0000100000
        0011111000
        0011111000
        0111111100
        0011111000
        0011111000
        0000100000
        0000000000""",
    square="""
        0000000000
        0111111100
        0111111100
        0111111100
        0111111100
        0111111100
        0111111100
        0111111100
        0000000000""",
    triangle="""
        0000000000
        0000100000
        0001100000
        0001110000
        0011110000
        0011111000
        0111111000
        0111111100
        0000000000""")


def parse(text):
    return np.array([[int(c) for c in line.strip()]
                     for line in text.strip().splitlines()], np.uint8)


@pytest.mark.parametrize('shape', list(EXPECTED))
def test_shapes_have_the_hand_drawn_pixels(shape):
    canvas = np.zeros((9, 10), np.uint8)
    draw_object(canvas, dict(shape=shape, x=4, y=4, r=3), 1)
    np.testing.assert_array_equal(canvas, parse(EXPECTED[shape]))
    colour = np.zeros((9, 10, 3), np.uint8)
    draw_object(colour, dict(shape=shape, x=4, y=4, r=3), (1, 2, 3))
    np.testing.assert_array_equal(colour, parse(EXPECTED[shape])[..., None] *
                                  np.array([1, 2, 3], np.uint8))


def test_rendering_does_not_use_opencv_drawing(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError('OpenCV drawing differs between versions')

    for name in ('circle', 'rectangle', 'fillPoly', 'fillConvexPoly',
                 'drawContours', 'polylines', 'ellipse'):
        monkeypatch.setattr(cv2, name, fail)
    scenes = generate_scenes(20, 0, size=64)
    shapes = {o['shape'] for s in scenes for o in s['objects']}
    assert shapes == {'circle', 'square', 'triangle'}
    for scene in scenes:
        image = render_image(scene)
        mask = render_mask(scene, scene['target'])
        assert 0 < mask.sum() < mask.size
        # the referent's colour (BGR) fills its mask
        obj = scene['objects'][scene['target']]
        assert (image[mask == 1] == image[obj['y'], obj['x']]).all()
