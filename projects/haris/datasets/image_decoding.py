"""Read an image as a viewer shows it: one policy for every entry point.

The EXIF orientation of a file is applied (a phone's portrait photo,
stored sideways with Orientation 6, comes out upright), so masks and
overlays are in the frame people see. Grey, grey+alpha, RGBA, palette and
16-bit images become (H, W, 3) uint8 BGR, the channel order of mmcv's
loaders and of the models' data preprocessors (``bgr_to_rgb=True``).
"""
import io
import os
import os.path as osp
from typing import Optional, Union

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_TYPES = (str, os.PathLike, bytes, np.ndarray, Image.Image)
ImageType = Union[IMAGE_TYPES]
ORIENTATION_TAG = 0x0112
# EXIF orientation -> how to turn the stored pixels upright (as PIL's
# ImageOps.exif_transpose and OpenCV's IMREAD_COLOR do)
UPRIGHT = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
    8: lambda a: np.rot90(a, 1),
}


def exif_orientation(data: bytes) -> int:
    """The EXIF orientation (1-8) of an encoded image; 1 when it has
    none or it cannot be read."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            value = im.getexif().get(ORIENTATION_TAG, 1)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return 1
    return value if value in UPRIGHT else 1


def to_bgr_uint8(img: np.ndarray, name: str = 'image') -> np.ndarray:
    """An (H, W), (H, W, 1|2|3|4) uint8 or uint16 array as (H, W, 3) uint8.

    Colour arrays are taken as BGR(A), as OpenCV gives them; grey is
    repeated over the channels, alpha dropped, and 16-bit values scaled
    to 0-255 (value / 257, rounded).
    """
    img = np.asarray(img)
    if img.dtype == np.uint16:
        img = ((img.astype(np.uint32) + 128) // 257).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise ValueError(f'{name} has pixels of type {img.dtype}; pass '
                         '8-bit or 16-bit pixels (uint8 or uint16).')
    if img.ndim == 3 and img.shape[2] in (1, 2):  # grey (+ alpha)
        img = img[..., 0]
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    elif img.ndim == 3 and img.shape[2] == 4:
        img = img[..., :3]
    if img.ndim != 3 or img.shape[2] != 3 or min(img.shape[:2]) < 1:
        raise ValueError(f'{name} has shape {img.shape}, which is not an '
                         'image; pass (H, W) grey or (H, W, 3) colour.')
    return np.ascontiguousarray(img)


def pil_to_bgr(im: Image.Image, name: str = 'image') -> np.ndarray:
    """A PIL image, turned upright by its EXIF orientation, as (H, W, 3)
    uint8 BGR."""
    im = ImageOps.exif_transpose(im)
    if im.mode in ('I;16', 'I;16L', 'I;16B', 'I;16N', 'I'):
        arr = np.asarray(im)
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise ValueError(f'{name} has 32-bit values outside 0-65535; '
                             'pass an 8-bit or 16-bit image.')
        return to_bgr_uint8(arr.astype(np.uint16), name)
    if im.mode not in ('L', 'LA', 'RGB', 'RGBA'):
        im = im.convert('RGB')  # palette, 1-bit, CMYK, YCbCr, ...
    arr = np.asarray(im)
    if arr.ndim == 3 and arr.shape[2] >= 3:
        arr = arr[..., [2, 1, 0]]  # RGB(A) -> BGR
    return to_bgr_uint8(arr, name)


def decode_image(data: bytes, name: str = 'image') -> np.ndarray:
    """Encoded bytes (JPEG, PNG, ...) as an upright (H, W, 3) uint8 BGR
    image; 16-bit files keep their precision until the conversion."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:  # a format OpenCV does not read, or not an image
        try:
            with Image.open(io.BytesIO(data)) as im:
                return pil_to_bgr(im, name)
        except (UnidentifiedImageError, OSError, ValueError) as err:
            raise ValueError(f'{name} could not be decoded; is it a valid '
                             'JPEG/PNG file?') from err
    # IMREAD_UNCHANGED leaves the orientation to us, on every OpenCV
    return to_bgr_uint8(UPRIGHT[exif_orientation(data)](img), name)


def read_image(image: ImageType, name: Optional[str] = None) -> np.ndarray:
    """Any image input as (H, W, 3) uint8 BGR, as a viewer shows it.

    Args:
        image (str | PathLike | bytes | np.ndarray | PIL.Image.Image): A
            file, its encoded bytes, an array (BGR or BGRA colour, or grey;
            taken as already upright) or a PIL image (turned upright by its
            EXIF orientation).
        name (str, optional): What to call the image in errors. Defaults
            to the path, or 'image'.

    Returns:
        np.ndarray: (H, W, 3) uint8 BGR.
    """
    if isinstance(image, (str, os.PathLike)):
        name = name or f'Image {image}'
        if not osp.isfile(image):
            raise FileNotFoundError(f'{name} not found.')
        with open(image, 'rb') as f:
            return decode_image(f.read(), name)
    name = name or 'image'
    if isinstance(image, (bytes, bytearray, memoryview)):
        return decode_image(bytes(image), name)
    if isinstance(image, Image.Image):
        return pil_to_bgr(image, name)
    return to_bgr_uint8(image, name)
