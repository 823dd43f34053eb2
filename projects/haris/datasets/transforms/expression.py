"""Expression transforms: draw a sentence, tokenise it."""
import warnings
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform

from mmseg.registry import TRANSFORMS
from mmseg.utils.tokenizer import SimpleTokenizer


@TRANSFORMS.register_module()
class PickExpression(BaseTransform):
    """Set ``results['text']`` to one of ``results['sentences']``, drawn at
    random every time the sample is drawn (a ref's sentences all get
    used over the epochs)."""

    def transform(self, results: dict) -> dict:
        sentences = results['sentences']
        if not sentences:
            raise ValueError(f'Ref {results.get("ref_id")} of '
                             f'{results.get("img_path")} has no sentence.')
        results['text'] = sentences[np.random.randint(len(sentences))]
        return results


@TRANSFORMS.register_module()
class TokenizeExpression(BaseTransform):
    """Tokenise ``results['text']`` into ``token_ids`` (L,) int64 and
    ``token_mask`` (L,) bool (True at real tokens, start and end included).

    Args:
        context_length (int): L, padded or truncated to. Defaults to 22.
        tokenizer (str, optional): Hub id or local directory of a
            HuggingFace tokenizer. None uses OpenAI CLIP's BPE tokenizer
            shipped with mmseg (offline; same ids as the openai/clip-* hub
            models). Defaults to None.
    """

    def __init__(self,
                 context_length: int = 22,
                 tokenizer: Optional[str] = None) -> None:
        self.context_length = context_length
        self.tokenizer_name = tokenizer
        if tokenizer is None:
            self.bpe = SimpleTokenizer()
            self.sot = self.bpe.encoder['<start_of_text>']
            self.eot = self.bpe.encoder['<end_of_text>']
        else:
            from transformers import AutoTokenizer
            self.hf = AutoTokenizer.from_pretrained(tokenizer)

    def encode(self, text: str) -> list:
        if self.tokenizer_name is None:
            return [self.sot] + self.bpe.encode(text) + [self.eot]
        return self.hf(text)['input_ids']

    def transform(self, results: dict) -> dict:
        text = results.get('text')
        if not isinstance(text, str) or not text.strip():
            raise ValueError(
                f'Empty expression {text!r} for {results.get("img_path")}; '
                'give a non-empty sentence.')
        ids = self.encode(text)
        if len(ids) > self.context_length:
            warnings.warn(
                f'Expression of {len(ids)} tokens truncated to '
                f'{self.context_length} (TokenizeExpression.context_length): '
                f'{text[:60]!r}...')
            ids = ids[:self.context_length - 1] + ids[-1:]
        token_ids = np.zeros(self.context_length, np.int64)
        token_ids[:len(ids)] = ids
        token_mask = np.zeros(self.context_length, bool)
        token_mask[:len(ids)] = True
        results['token_ids'] = token_ids
        results['token_mask'] = token_mask
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(context_length='
                f'{self.context_length}, tokenizer={self.tokenizer_name})')
