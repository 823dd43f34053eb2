"""Image kinds (grey, grey+alpha, RGBA, palette, 16-bit) become the same
(H, W, 3) uint8 BGR pixels from a file, a PIL image or an array, with the
values written here by hand."""
import cv2
import numpy as np
import pytest
from PIL import Image

from projects.haris.datasets import read_image

H, W = 6, 40
J = np.arange(W)


def row(values) -> np.ndarray:
    return np.tile(np.asarray(values), (H, 1))


def image_kinds(folder) -> dict:
    """name -> (file, PIL image, array or None, expected BGR pixels):
    horizontal gradients with a bright block at columns 30-37."""
    grey = row(J * 6).astype(np.uint8)  # 0 .. 234
    grey[:, 30:38] = 250
    deep = row(J * 1637 + 11).astype(np.uint16)  # 11 .. 63854
    deep[:, 30:38] = 65000
    r, g, b = row(J * 6), row(255 - J * 6), row(J * 3)
    r[:, 30:38] = g[:, 30:38] = b[:, 30:38] = 252
    rgb = np.dstack([r, g, b]).astype(np.uint8)
    deep3 = np.dstack([deep, deep[:, ::-1], deep // 2])
    deep3[:, 30:38] = 65000
    alpha = row(J * 6).astype(np.uint8)  # must not matter
    palette = np.zeros((256, 3), np.uint8)
    palette[:W] = np.stack([J * 5, 255 - J * 5, J * 2], axis=1)
    palette[30:38] = 253
    index = row(J).astype(np.uint8)
    paletted = Image.fromarray(index, 'P')
    paletted.putpalette(palette.ravel().tolist())

    def grey3(x):
        return np.repeat(x[..., None], 3, axis=2)

    def scaled(x):  # value / 257, rounded: 0-65535 onto 0-255
        return np.round(x / 257.).astype(np.uint8)

    kinds = dict(
        grey=(Image.fromarray(grey, 'L'), grey, grey3(grey)),
        grey_alpha=(Image.fromarray(np.dstack([grey, alpha]), 'LA'), None,
                    grey3(grey)),
        rgba=(Image.fromarray(np.dstack([rgb, alpha]), 'RGBA'),
              np.dstack([rgb[..., ::-1], alpha]), rgb[..., ::-1]),
        palette=(paletted, None, palette[index][..., ::-1]),
        grey16=(Image.fromarray(deep), deep, grey3(scaled(deep))),
        colour16=(None, deep3, scaled(deep3)),
    )
    out = {}
    for name, (pil, array, expected) in kinds.items():
        path = str(folder / f'{name}.png')
        if pil is not None:
            pil.save(path)
        else:
            cv2.imwrite(path, array)  # PIL cannot write 16-bit colour
        out[name] = (path, pil, array, np.ascontiguousarray(expected))
    return out


def test_image_kinds_have_the_expected_pixels(tmp_path):
    kinds = image_kinds(tmp_path)
    assert Image.open(kinds['grey16'][0]).mode.startswith('I')
    assert Image.open(kinds['palette'][0]).mode == 'P'
    for name, (path, pil, array, expected) in kinds.items():
        assert expected.shape == (H, W, 3) and expected.dtype == np.uint8
        np.testing.assert_array_equal(read_image(path), expected, name)
        if pil is not None:
            np.testing.assert_array_equal(read_image(pil), expected, name)
        if array is not None:
            np.testing.assert_array_equal(read_image(array), expected, name)


def test_unusable_images_are_named(tmp_path):
    with pytest.raises(ValueError, match='float32.*uint8 or uint16'):
        read_image(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match=r'shape \(4, 4, 5\)'):
        read_image(np.zeros((4, 4, 5), np.uint8))
    (tmp_path / 'x.jpg').write_bytes(b'\xff\xd8\xff not really')
    with pytest.raises(ValueError, match='x.jpg could not be decoded'):
        read_image(str(tmp_path / 'x.jpg'))
    with pytest.raises(FileNotFoundError, match='nothere.png not found'):
        read_image(str(tmp_path / 'nothere.png'))
