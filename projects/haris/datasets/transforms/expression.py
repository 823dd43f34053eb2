"""Expression transforms: draw a sentence, tokenise it."""
import logging
import warnings
from collections import Counter
from typing import Iterable, Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.logging import print_log

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

    A sentence longer than L keeps its first L - 1 tokens and the end token.
    Each truncation warns, unless a dataset has already counted them for all
    its sentences (see :func:`log_truncated_sentences`) and turned
    ``warn_truncation`` off.

    Args:
        context_length (int): L, padded or truncated to. Defaults to 22.
        tokenizer (str, optional): Hub id or local directory of a
            HuggingFace tokenizer, loaded as its slow (Python) tokenizer
            where it has one: CLIP's fast tokenizer skips the ftfy clean-up
            CLIP was trained with and gives other ids for curly quotes,
            ligatures or full-width letters. None uses OpenAI CLIP's BPE
            tokenizer shipped with mmseg (offline; same ids as the
            openai/clip-* hub models). Defaults to None.
        warn_truncation (bool): Warn for every truncated sentence.
            Defaults to True.
    """

    def __init__(self,
                 context_length: int = 22,
                 tokenizer: Optional[str] = None,
                 warn_truncation: bool = True) -> None:
        self.context_length = context_length
        self.tokenizer_name = tokenizer
        self.warn_truncation = warn_truncation
        if tokenizer is None:
            self.bpe = SimpleTokenizer()
            self.sot = self.bpe.encoder['<start_of_text>']
            self.eot = self.bpe.encoder['<end_of_text>']
        else:
            from transformers import AutoTokenizer
            self.hf = AutoTokenizer.from_pretrained(
                tokenizer, use_fast=False)

    def encode(self, text: str) -> list:
        if self.tokenizer_name is None:
            return [self.sot] + self.bpe.encode(text) + [self.eot]
        return self.hf(text)['input_ids']

    def count_truncated(self, sentences: Iterable[str]) -> int:
        """How many of ``sentences`` are longer than the context length
        (each distinct sentence is tokenised once)."""
        counts = Counter(sentences)
        return sum(n for text, n in counts.items()
                   if len(self.encode(text)) > self.context_length)

    def transform(self, results: dict) -> dict:
        text = results.get('text')
        if not isinstance(text, str) or not text.strip():
            raise ValueError(
                f'Empty expression {text!r} for {results.get("img_path")}; '
                'give a non-empty sentence.')
        ids = self.encode(text)
        if len(ids) > self.context_length:
            if self.warn_truncation:
                warnings.warn(
                    f'Expression of {len(ids)} tokens truncated to '
                    f'{self.context_length} '
                    f'(TokenizeExpression.context_length): {text[:60]!r}...')
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


def log_truncated_sentences(name: str, sentences: Sequence[str],
                            transforms: Iterable) -> Optional[int]:
    """Log in one line how many of a dataset's sentences the
    ``TokenizeExpression`` of its pipeline truncates, then turn that
    transform's per-sentence warning off (the line has said it all).

    Counting when the dataset loads, in the main process, gives one exact
    line per dataset; counting in the transform would happen in every
    dataloader worker, after the sentences were already used.

    Args:
        name (str): How the line names the dataset, e.g.
            'RefCocoDataset(refcocog, umd, val)'.
        sentences (Sequence[str]): Every sentence of the dataset.
        transforms (Iterable): The dataset's pipeline transforms.

    Returns:
        int | None: The number of truncated sentences; None if the pipeline
        does not tokenise.
    """
    tokenizers = [t for t in transforms if isinstance(t, TokenizeExpression)]
    if not tokenizers:
        return None
    length = tokenizers[0].context_length
    num = tokenizers[0].count_truncated(sentences)
    print_log(
        f'{name}: {num} of {len(sentences)} sentences truncated to {length} '
        'tokens (TokenizeExpression.context_length)',
        logger='current',
        level=logging.WARNING if num else logging.INFO)
    for tokenizer in tokenizers:
        tokenizer.warn_truncation = False
    return num
