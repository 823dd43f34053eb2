"""Per-word language-weighted attention of both HLA rounds (the paper's
Figure 1) for one image and expression."""
from functools import lru_cache
from typing import Callable, Dict, List, Optional

import cv2
import numpy as np
import torch

from mmseg.utils.tokenizer import SimpleTokenizer
from ..models.utils import record_attention
from ..visualization import draw_mask
from ..datasets import read_image
from ..datasets.transforms import TokenizeExpression
from .inferencer import RefSegInferencer


def token_words(token_ids: np.ndarray,
                token_mask: np.ndarray,
                decode: Optional[Callable[[int], str]] = None) -> List[str]:
    """The text of each real token (start/end markers included).

    Args:
        token_ids (np.ndarray): (L, ) token ids.
        token_mask (np.ndarray): (L, ), True at real tokens.
        decode (callable, optional): Token id -> text; see
            :func:`token_decoder`. Defaults to OpenAI CLIP's BPE
            vocabulary shipped with mmseg.
    """
    decode = decode or clip_bpe_decoder()
    return [
        decode(int(tid)).replace('</w>', '')
        for tid, real in zip(token_ids, token_mask) if real
    ]


@lru_cache(maxsize=1)
def clip_bpe_decoder() -> Callable[[int], str]:
    """Token id -> text of mmseg's CLIP BPE tokenizer, built once (reading
    its vocabulary takes about a second)."""
    decoder = SimpleTokenizer().decoder
    return lambda tid: decoder.get(tid, '?')


def token_decoder(inferencer: RefSegInferencer) -> Callable[[int], str]:
    """Token id -> text with the tokenizer the inferencer's pipeline
    already holds (its ``TokenizeExpression``), so nothing is built per
    call and the words match the ids whichever tokenizer the config
    names; mmseg's CLIP BPE tokenizer for a pipeline without one."""
    for step in getattr(inferencer.pipeline, 'transforms', []):
        if isinstance(step, TokenizeExpression):
            if step.tokenizer_name is None:
                decoder = step.bpe.decoder
                return lambda tid: decoder.get(tid, '?')
            return step.hf.convert_ids_to_tokens
    return clip_bpe_decoder()


@torch.no_grad()
def collect_attention(inferencer: RefSegInferencer, image, text: str,
                      level: int = 0) -> Dict[str, object]:
    """Run the model once and record the LWA maps of its HLA neck.

    Args:
        inferencer (RefSegInferencer): A model with an :class:`HLANeck`.
        image (str | np.ndarray): Image path or array.
        text (str): The expression.
        level (int): HLA level, 0 = shallowest. Defaults to 0.

    Returns:
        dict: ``round1`` and ``round2`` LWA maps and the ``vwa`` map (each
        word's attention over the image in VWA), each (L_real, h, w), of
        HLA level ``level`` (0 = shallowest; a map is missing when the
        model has no such part), ``words``, ``mask`` and ``image``.
    """
    neck = inferencer.model.neck
    if not 0 <= level < len(neck.blocks):
        raise ValueError(f'level {level} does not exist: the neck has '
                         f'{len(neck.blocks)} HLA levels, 0 (shallowest) to '
                         f'{len(neck.blocks) - 1}.')
    img = read_image(image)
    with record_attention(neck) as calls:
        result = inferencer(img, text)[0]
    if len(calls) != 1:
        raise RuntimeError('expected the model to run its neck once for one '
                           f'image and expression, but it ran {len(calls)} '
                           'times.')
    if calls[0][level] is None:
        raise ValueError(f'level {level} is not fused with the text (the '
                         f'neck fuses only its deepest {neck.text_levels} '
                         'levels, text_levels); pick one of those.')
    maps = {k: v[0].cpu().numpy() for k, v in calls[0][level].items()}
    ids, real = result['token_ids'], result['token_mask']
    pad_h, pad_w = result['pad_shape']
    stride = inferencer.model.backbone.patch_size
    grid = (pad_h // stride, pad_w // stride)
    out = dict(words=token_words(ids, real, token_decoder(inferencer)),
               mask=result['mask'], image=img,
               img_shape=result['img_shape'], pad_shape=(pad_h, pad_w))
    for name in ('round1', 'round2', 'vwa'):
        if name in maps:  # (N, L) -> (L_real, h, w)
            attn = maps[name][:, real.astype(bool)].T
            out[name] = attn.reshape(-1, *grid)
    return out


def crop_to_image(grid: np.ndarray, img_shape, pad_shape) -> np.ndarray:
    """The part of an (h, w) map over the padded input that covers the
    letterboxed image (top-left ``img_shape`` of ``pad_shape``)."""
    gh, gw = grid.shape
    keep_h = max(1, int(np.ceil(gh * img_shape[0] / pad_shape[0])))
    keep_w = max(1, int(np.ceil(gw * img_shape[1] / pad_shape[1])))
    return grid[:keep_h, :keep_w]


def draw_attention_figure(att: dict, out_file: str) -> np.ndarray:
    """One PNG: a row per word; columns: the image with the predicted
    mask, round-1 and round-2 attention of that word."""
    image = att['image']
    h, w = image.shape[:2]
    cell = 160
    scale = cell / max(h, w)
    size = (max(1, int(w * scale)), max(1, int(h * scale)))
    mask = cv2.resize(att['mask'].astype(np.uint8), size,
                      interpolation=cv2.INTER_NEAREST).astype(bool)
    base = cv2.resize(image, size)
    with_mask = draw_mask(base[..., ::-1], mask)[..., ::-1]
    rows = []
    for i, word in enumerate(att['words']):
        cells = [with_mask]
        for name in ('round1', 'round2'):
            if name not in att:
                continue
            crop = crop_to_image(att[name][i], att['img_shape'],
                                 att['pad_shape'])
            norm = crop / max(crop.max(), 1e-6)
            hm = cv2.applyColorMap(
                (cv2.resize(norm, size) * 255).astype(np.uint8),
                cv2.COLORMAP_JET)
            cells.append(cv2.addWeighted(base, 0.5, hm, 0.5, 0))
        row = np.concatenate(cells, axis=1)
        label = np.full((row.shape[0], 90, 3), 255, np.uint8)
        short = {'<start_of_text>': '<sot>', '<end_of_text>': '<eot>'}
        cv2.putText(label, short.get(word, word)[:12],
                    (4, row.shape[0] // 2),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)
        rows.append(np.concatenate([label, row], axis=1))
    figure = np.concatenate(rows, axis=0)
    header = np.full((22, figure.shape[1], 3), 255, np.uint8)
    for j, title in enumerate(('image', 'round 1 (bottom-up)',
                               'round 2 (feedback)')):
        cv2.putText(header, title, (94 + j * size[0], 15),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    figure = np.concatenate([header, figure], axis=0)
    cv2.imwrite(out_file, figure)
    return figure
