"""Horizontal flip that keeps the expression true."""
import re

from mmcv.transforms import RandomFlip

from mmseg.registry import TRANSFORMS

SWAPS = {'left': 'right', 'right': 'left', 'leftmost': 'rightmost',
         'rightmost': 'leftmost'}
PATTERN = re.compile(r'\b(' + '|'.join(SWAPS) + r')\b', re.IGNORECASE)


def swap_left_right(text: str) -> str:
    """'the dog on the left' -> 'the dog on the right' (case kept)."""

    def repl(m):
        word = SWAPS[m.group(0).lower()]
        return word.capitalize() if m.group(0)[0].isupper() else word

    return PATTERN.sub(repl, text)


@TRANSFORMS.register_module()
class RandomFlipReferring(RandomFlip):
    """mmcv's ``RandomFlip`` that also swaps left/right words in
    ``results['text']`` on horizontal flips. Put it after
    ``PickExpression`` and before ``TokenizeExpression``.

    With ``same_flip_per_image`` (default), a sample of the same image
    (``img_path``) as the sample just before it takes that sample's draw
    instead of a new one: the refs of an image that
    ``ImageGroupedBatchSampler`` puts in one batch (a dataloader worker
    prepares a batch's samples in order) are flipped alike, so their input
    images stay equal and the model encodes them once. Each image's draw is
    still a fair coin with probability ``prob``.

    Args:
        same_flip_per_image (bool): Reuse the previous sample's draw for
            consecutive samples of one image. Defaults to True.
        **kwargs: ``RandomFlip`` arguments (``prob``, ``direction``).
    """

    def __init__(self, *args, same_flip_per_image: bool = True,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.same_flip_per_image = same_flip_per_image
        self._last = None  # (img_path, direction) of the previous sample

    def _flip_on_direction(self, results: dict) -> None:
        path = results.get('img_path')
        if (self.same_flip_per_image and path is not None
                and self._last is not None and self._last[0] == path):
            direction = self._last[1]
        else:
            direction = self._choose_direction()
        self._last = (path, direction)
        results['flip'] = direction is not None
        results['flip_direction'] = direction
        if direction is not None:
            self._flip(results)

    def _flip(self, results: dict) -> None:
        super()._flip(results)
        if results.get('flip_direction') == 'horizontal' and 'text' in \
                results:
            results['text'] = swap_left_right(results['text'])
