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
    ``PickExpression`` and before ``TokenizeExpression``."""

    def _flip(self, results: dict) -> None:
        super()._flip(results)
        if results.get('flip_direction') == 'horizontal' and 'text' in \
                results:
            results['text'] = swap_left_right(results['text'])
