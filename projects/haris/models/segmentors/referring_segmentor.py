"""EncoderDecoder that carries the tokenised expression to the model."""
import inspect
from typing import List, Optional, Tuple

import torch
from torch import Tensor

from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.utils import OptSampleList, SampleList
from .referring_postprocess import (check_whole_mode, postprocess_referring,
                                    text_inputs)


@MODELS.register_module()
class ReferringSegmentor(EncoderDecoder):
    """Referring segmentor: image + expression -> one binary mask.

    Each sample's metainfo carries ``token_ids`` and ``token_mask`` (from
    ``TokenizeExpression``). The backbone encodes image and text, the neck
    fuses them, the decode head predicts one-channel logits; the inherited
    post-processing removes padding, undoes flips, resizes to the original
    image and thresholds the sigmoid at ``decode_head.threshold``.

    With a decode head that has the no-target output (``QueryDecodeHead``
    with ``no_target=True``), each prediction also carries
    ``no_target_score`` (the probability that the sentence names nothing)
    and ``pred_no_target``: the score is above the head's
    ``no_target_threshold``, or the predicted mask is empty (as a model
    without the output answers; the head's ``empty_mask_is_no_target``,
    on by default). A no-target answer has an empty ``pred_sem_seg`` and
    keeps its probabilities in ``seg_logits``. The post-processing is
    :func:`postprocess_referring`, which the ONNX Runtime runner calls too.

    Prediction and training encode each distinct image of a batch once:
    the vision tower does not depend on the text, so the sentences of one
    image share its visual maps (``train_cfg.encode_each_image_once``
    switches it for training, default True; see :meth:`loss`). Options
    read from ``test_cfg``:

    - ``encode_each_image_once`` (bool): group the samples whose input
      images are equal (``img_path`` as a hint, confirmed by
      ``torch.equal``) and run the vision tower once per group. False runs
      it once per sentence. Defaults to True.
    - ``merge_adapters`` (bool): fold the backbone's adapters into its
      weights the first time the model predicts (after any checkpoint was
      loaded). Only for runs that never train again (``tools/test.py``,
      ``RefSegInferencer``); a merged model refuses ``train()``.
      Defaults to False.
    """

    def text_inputs(self, batch_img_metas: List[dict]) -> Tuple[Tensor, ...]:
        """Stack (B, L) token ids and mask from the metainfo."""
        return text_inputs(batch_img_metas, self.data_preprocessor.device)

    def encode(self,
               img: Tensor,
               token_ids: Tensor,
               token_mask: Tensor,
               image_index: Optional[Tensor] = None) -> tuple:
        """Backbone (image + text) then neck on plain tensors; returns the
        neck's output (the decode head's input).

        Args:
            img (Tensor): (B, 3, H, W), one image per sentence; or, with
                ``image_index``, the (G, 3, H, W) distinct images.
            token_ids (Tensor): (B, L) token ids.
            token_mask (Tensor): (B, L), True at real tokens.
            image_index (Tensor, optional): (B,) index into ``img`` of each
                sentence's image (see :meth:`group_images`). The vision
                tower runs once per image, and so does the image-only part
                of a neck whose ``forward`` takes ``image_index`` (as
                :class:`HLANeck` does); another neck gets each sentence's
                maps.
        """
        feats = self.backbone(img, token_ids, token_mask, image_index)
        visual = feats['visual']  # G maps with image_index, else B
        text = (feats['words'], feats['sentence'], feats['word_padding_mask'])
        if image_index is None:
            return self.neck(visual, *text)
        if self.neck_takes_image_index():
            # the neck works once per image where no text enters
            return self.neck(visual, *text, image_index=image_index)
        # a neck that takes one map per sentence
        return self.neck([v.index_select(0, image_index) for v in visual],
                         *text)

    def neck_takes_image_index(self) -> bool:
        """Whether the neck's ``forward`` accepts ``image_index`` (read
        from its signature once, not at every batch)."""
        if getattr(self, '_neck_takes_image_index', None) is None:
            self._neck_takes_image_index = 'image_index' in \
                inspect.signature(self.neck.forward).parameters
        return self._neck_takes_image_index

    @staticmethod
    def group_images(
            inputs: Tensor,
            batch_img_metas: List[dict]) -> Tuple[Tensor, Optional[Tensor]]:
        """The distinct images of a batch and each sample's index among
        them.

        Two samples share an image only if their input tensors are equal;
        differing ``img_path`` metainfo skips the comparison.

        Returns:
            tuple: (G, 3, H, W) distinct images and the (B,) index of each
            sample's image, or ``inputs`` and None when all differ.
        """
        firsts, index = [], []  # firsts[g]: the first sample of group g
        for i, meta in enumerate(batch_img_metas):
            path = meta.get('img_path')
            for g, j in enumerate(firsts):
                other = batch_img_metas[j].get('img_path')
                if path is not None and other is not None and path != other:
                    continue
                if torch.equal(inputs[i], inputs[j]):
                    index.append(g)
                    break
            else:
                index.append(len(firsts))
                firsts.append(i)
        if len(firsts) == len(index):
            return inputs, None
        return inputs[firsts], torch.tensor(index, device=inputs.device)

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        """Logits of a batch (see :meth:`decode`)."""
        return self.decode(inputs, batch_img_metas)[0]

    def decode(self, inputs: Tensor, batch_img_metas: List[dict]
               ) -> Tuple[Tensor, Optional[Tensor]]:
        """Mask logits of a batch at the padded input size, and the
        no-target probabilities (B, ) or None when the decode head has no
        such output. Each distinct image goes through the vision tower once
        (``test_cfg.encode_each_image_once``)."""
        ids, mask = self.text_inputs(batch_img_metas)
        image_index = None
        if self.test_cfg.get('encode_each_image_once', True):
            inputs, image_index = self.group_images(inputs, batch_img_metas)
        x = self.encode(inputs, ids, mask, image_index)
        with_no_target = getattr(self.decode_head, 'predict_with_no_target',
                                 None)
        if with_no_target is None:
            return self.decode_head.predict(x, batch_img_metas,
                                            self.test_cfg), None
        return with_no_target(x, batch_img_metas, self.test_cfg)

    def extract_feat(self, inputs: Tensor,
                     batch_img_metas: Optional[List[dict]] = None) -> tuple:
        """Tokens from the metainfo, then :meth:`encode`."""
        return self.encode(inputs, *self.text_inputs(batch_img_metas))

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Losses of a batch. As in prediction, samples whose input images
        are equal share one vision pass, forward and backward
        (``train_cfg.encode_each_image_once``, default True): the gradient
        of the shared maps is the sum of their sentences' gradients, as if
        each had its own copy. ``ImageGroupedBatchSampler`` puts the refs
        of one image in the same batch."""
        metas = [s.metainfo for s in data_samples]
        image_index = None
        if (self.train_cfg or {}).get('encode_each_image_once', True):
            inputs, image_index = self.group_images(inputs, metas)
        x = self.encode(inputs, *self.text_inputs(metas), image_index)
        losses = self._decode_head_forward_train(x, data_samples)
        if self.with_auxiliary_head:
            losses.update(self._auxiliary_head_forward_train(x, data_samples))
        return losses

    def predict(self,
                inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """mmseg's prediction (padding removed, resized to the original
        image), plus the no-target answer when the head gives one. Merges
        the adapters first if ``test_cfg.merge_adapters`` asks for it."""
        if self.test_cfg.get('merge_adapters', False) and not self.training:
            self.merge_adapters()
        self.check_whole_mode()
        metas = [] if data_samples is None else [
            s.metainfo for s in data_samples
        ]
        logits, no_target = self.decode(inputs, metas)
        return postprocess_referring(self, logits, data_samples, no_target)

    def merge_adapters(self) -> None:
        """Fold the backbone's adapters into its weights (no-op for a
        backbone without ``merge_adapters`` or already merged)."""
        merge = getattr(self.backbone, 'merge_adapters', None)
        if merge is not None and not self.backbone.adapters_merged:
            merge()

    def train(self, mode: bool = True) -> 'ReferringSegmentor':
        if mode and getattr(self.backbone, 'adapters_merged', False):
            raise RuntimeError(
                'The backbone\'s adapters are merged into its weights for '
                'inference (test_cfg.merge_adapters=True); training now '
                'would update them on top of weights that already hold '
                'them. Set test_cfg.merge_adapters=False in runs that '
                'train, or rebuild the model.')
        return super().train(mode)

    def check_whole_mode(self) -> None:
        """Whole-image inference only (sliding windows would cut the
        referent)."""
        check_whole_mode(self.test_cfg)

    def inference(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        """Whole-image logits (mmseg's inference entry point)."""
        self.check_whole_mode()
        return self.encode_decode(inputs, batch_img_metas)

    def _forward(self,
                 inputs: Tensor,
                 data_samples: OptSampleList = None) -> Tensor:
        x = self.extract_feat(inputs, [s.metainfo for s in data_samples])
        return self.decode_head.forward(x)
