"""Referring segmentation on your own images and sentences."""
import os
import os.path as osp
from typing import List, Optional, Sequence, Union

import mmcv
import numpy as np
import torch
from mmengine.dataset import Compose, pseudo_collate

from mmseg.apis import init_model
from mmseg.registry import MODELS
from ..datasets import ReferringDataset, read_image
from ..datasets.image_decoding import IMAGE_TYPES, ImageType
from ..utils import load_model_checkpoint
from ..utils.frozen_weights import pretrained_prefixes
from .model_folder import (load_model_weights, read_model_config,
                           resolve_model_folder)
from ..visualization import add_caption, draw_mask


def answer(result: dict) -> str:
    """A result in words: 'no target (p 0.93)' or the mask's score."""
    if result.get('no_target'):
        return f'no target (p {result["no_target_score"]:.2f})'
    return f'{result["score"]:.2f}'


class RefSegInferencer:
    """Predict the mask of each (image, expression) pair.

    Args:
        config (str | Config): The model's config (e.g.
            configs/haris_refcoco.py).
        checkpoint (str, optional): Weights written by tools/train.py,
            or a model folder with this config (see
            :meth:`from_pretrained`).
        device (str, optional): 'cpu', 'cuda', 'cuda:1', ... Defaults to
            CUDA when available.
        merge_adapters (bool): Fold the encoders' adapters into their
            weights before the first prediction (same masks up to float
            rounding, faster). The model is then for inference only.
            Defaults to True.

    Example:
        >>> inferencer = RefSegInferencer('configs/haris_synthetic.py',
        ...                               'work_dirs/x/iter_3000.pth')
        >>> result = inferencer('photo.jpg', 'the red car on the left')[0]
        >>> result['mask'].shape, result['score']

    Not thread-safe: call it from one thread at a time. Two calls at once
    share one model: the adapters merged at the first prediction could be
    merged twice, and ``collect_attention`` hooks the shared neck for the
    length of its call, so it would record the other call's forward pass.
    To serve several users, merge first (``model.merge_adapters()``) and
    hold one lock around every call, ``collect_attention`` included, as
    ``demo/web_demo.py`` does.
    """

    def __init__(self,
                 config,
                 checkpoint: Optional[str] = None,
                 device: Optional[str] = None,
                 merge_adapters: bool = True) -> None:
        if device is None:
            device = 'cuda' if torch.cuda.is_available() else 'cpu'
        self.model = init_model(config, None, device=device)
        self.model.dataset_meta = dict(ReferringDataset.METAINFO)
        if checkpoint is not None:
            self.load_weights(checkpoint)
        if self.model.test_cfg is None:
            self.model.test_cfg = dict()
        # merged at the first prediction, after the weights are loaded
        self.model.test_cfg['merge_adapters'] = merge_adapters
        self.pipeline = Compose(self.test_pipeline(self.model.cfg))

    @classmethod
    def from_pretrained(cls,
                        path_or_id: str,
                        device: Optional[str] = None,
                        merge_adapters: bool = True,
                        base_model: Optional[str] = None
                        ) -> 'RefSegInferencer':
        """The model of a folder written by
        ``tools/model_converters/save_pretrained.py``, or of a hub
        repository holding one (fetched with ``huggingface_hub``, which
        honours ``HF_HUB_OFFLINE`` and its cache). Nothing is unpickled
        and the folder's config is read as data, never run.

        Args:
            path_or_id (str): The folder, or a hub id (``owner/name``).
            device (str, optional): As in :class:`RefSegInferencer`.
            merge_adapters (bool): As in :class:`RefSegInferencer`.
            base_model (str, optional): Read the frozen encoders from this
                folder or hub id instead of the one the model names (e.g.
                a local copy); their SHA-256 must match. Defaults to None.

        Example:
            >>> inferencer = RefSegInferencer.from_pretrained('owner/haris')
            >>> inferencer('photo.jpg', 'the dog on the left')[0]['mask']
        """
        folder = resolve_model_folder(path_or_id)
        cfg = read_model_config(folder)
        if base_model is not None:
            cfg.model.backbone.pretrained = base_model
        return cls(cfg, folder, device, merge_adapters)

    def load_weights(self, checkpoint: str) -> None:
        """Load a checkpoint (or a model folder's weights) strictly; a
        checkpoint of another model is refused with the keys that do not
        fit. A checkpoint that left out
        the frozen encoder weights (the default for frozen-encoder configs)
        gets them from the pretrained encoders the config names.

        After a prediction the adapters are merged into those weights, and
        unmerging them is exact only up to float rounding: the pretrained
        encoders are then read again, so a second checkpoint predicts as a
        new inferencer on it does."""
        backbone_cfg = self.model.cfg.model.get('backbone')
        if getattr(self.model.backbone, 'adapters_merged', False) and \
                pretrained_prefixes(backbone_cfg):
            self.model.backbone.load_state_dict(
                MODELS.build(backbone_cfg).state_dict())
        if osp.isdir(checkpoint):  # a model folder's weights
            meta = load_model_weights(self.model, checkpoint, self.model.cfg)
        else:
            meta = load_model_checkpoint(self.model, checkpoint).get(
                'meta', {})
        if meta.get('dataset_meta'):
            self.model.dataset_meta = meta['dataset_meta']

    @staticmethod
    def test_pipeline(cfg) -> List[dict]:
        """The config's test pipeline, fed from memory and without masks."""
        steps = []
        for step in cfg.test_dataloader.dataset.pipeline:
            if step['type'] in ('LoadImageFromFile', 'LoadReferringImage'):
                step = dict(type='LoadImageFromNDArray')
            elif step['type'] == 'LoadReferringMask':
                continue
            steps.append(step)
        return steps

    def prepare(self, image: np.ndarray, text: str) -> dict:
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f'Empty expression {text!r}; give a sentence '
                             'that names the object.')
        return self.pipeline(dict(img=image, sentences=[text]))

    @torch.no_grad()
    def __call__(self,
                 images: Union[ImageType, Sequence[ImageType]],
                 texts: Union[str, Sequence[str]],
                 batch_size: int = 8) -> List[dict]:
        """Segment each pair; one image with several texts (or the
        reverse) is broadcast.

        The pairs of one image go through the model together, so the image
        is encoded once however many sentences it has. A forward pass holds
        the pairs of as many images as fit in ``batch_size`` pairs (more
        if one image alone has more sentences).

        Returns:
            list[dict]: per pair, in the order given, ``mask`` (H, W) bool
            at the image's resolution, ``prob`` (H, W) float sigmoid
            probabilities, ``score`` (mean probability inside the mask, 0 if
            empty), ``text``, ``no_target`` (True when a model with the
            no-target output says the sentence names nothing; the mask is
            then empty) and ``no_target_score`` (its probability; None for
            a model without that output), and the model input's
            ``img_shape``/``pad_shape`` and ``token_ids``/``token_mask``.
        """
        images = [images] if isinstance(images, IMAGE_TYPES) \
            else list(images)
        texts = [texts] if isinstance(texts, str) else list(texts)
        if len(images) == 1:
            images = images * len(texts)
        if len(texts) == 1:
            texts = texts * len(images)
        if len(images) != len(texts):
            raise ValueError(f'{len(images)} images and {len(texts)} '
                             'expressions: give one of each per pair.')
        loaded = {}
        pairs_of = {}  # image key -> indices of its pairs
        samples = []
        for i, (image, text) in enumerate(zip(images, texts)):
            key = image if isinstance(image, str) else id(image)
            if key not in loaded:
                loaded[key] = read_image(image)
            pairs_of.setdefault(key, []).append(i)
            samples.append(self.prepare(loaded[key], text))
        results = [None] * len(samples)
        for indices in self.passes(list(pairs_of.values()), batch_size):
            batch = pseudo_collate([samples[i] for i in indices])
            for i, out in zip(indices, self.model.test_step(batch)):
                prob = out.seg_logits.data[0].float().cpu().numpy()
                mask = out.pred_sem_seg.data[0].cpu().numpy() > 0
                results[i] = dict(
                    mask=mask,
                    prob=prob,
                    score=float(prob[mask].mean()) if mask.any() else 0.,
                    text=out.metainfo['text'],
                    no_target=bool(out.get('pred_no_target', False)),
                    no_target_score=out.get('no_target_score'),
                    img_shape=out.metainfo['img_shape'],
                    pad_shape=out.metainfo['pad_shape'],
                    token_ids=out.metainfo['token_ids'],
                    token_mask=out.metainfo['token_mask'])
        return results

    @staticmethod
    def passes(groups: List[List[int]], batch_size: int) -> List[List[int]]:
        """Split groups of pair indices (one group per image) into forward
        passes of at most ``batch_size`` pairs without splitting a group; a
        group larger than ``batch_size`` is a pass of its own."""
        if batch_size < 1:
            raise ValueError(f'batch_size must be at least 1, got '
                             f'{batch_size}.')
        out, current = [], []
        for group in groups:
            if current and len(current) + len(group) > batch_size:
                out.append(current)
                current = []
            current = current + group
        if current:
            out.append(current)
        return out

    def save_overlays(self, image: ImageType, results: List[dict],
                      out: str) -> List[str]:
        """Write one overlay per result: ``out``, then ``<stem>_1<ext>``,
        ``<stem>_2<ext>``, ... (each written to a temporary name and moved
        into place). Returns one line per file: its path and the answer."""
        stem, ext = osp.splitext(out)
        ext = ext or '.png'
        lines = []
        for i, result in enumerate(results):
            path = out if i == 0 else f'{stem}_{i}{ext}'
            tmp = f'{osp.splitext(path)[0]}.tmp{ext}'
            mmcv.imwrite(self.overlay(image, result), tmp)
            os.replace(tmp, path)
            if result.get('no_target'):
                said = (f'no target (probability '
                        f'{result["no_target_score"]:.3f})')
            else:
                said = (f'score {result["score"]:.3f}, '
                        f'{int(result["mask"].sum())} pixels')
            lines.append(f'{path}: "{result["text"]}" {said}')
        return lines

    @staticmethod
    def overlay(image: ImageType, result: dict) -> np.ndarray:
        """BGR picture of the mask (tinted, outlined; every region of a
        multi-target answer) with the sentence and its score, or the words
        "no target" when that is the answer."""
        rgb = read_image(image)[..., ::-1]
        drawn = add_caption(draw_mask(rgb, result['mask']),
                            f'{result["text"]}  ({answer(result)})')
        return np.ascontiguousarray(drawn[..., ::-1])
