"""EncoderDecoder that carries the tokenised expression to the model."""
from typing import List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.utils import OptSampleList, SampleList


@MODELS.register_module()
class ReferringSegmentor(EncoderDecoder):
    """Referring segmentor: image + expression -> one binary mask.

    Each sample's metainfo carries ``token_ids`` and ``token_mask`` (from
    ``TokenizeExpression``). The backbone encodes image and text, the neck
    fuses them, the decode head predicts one-channel logits; the inherited
    post-processing removes padding, undoes flips, resizes to the original
    image and thresholds the sigmoid at ``decode_head.threshold``.
    """

    def text_inputs(self, batch_img_metas: List[dict]) -> Tuple[Tensor, ...]:
        """Stack (B, L) token ids and mask from the metainfo."""
        if not batch_img_metas or 'token_ids' not in batch_img_metas[0]:
            raise KeyError(
                'Samples carry no tokenised expression: add '
                "TokenizeExpression to the pipeline and 'token_ids', "
                "'token_mask' to PackSegInputs' meta_keys.")
        device = self.data_preprocessor.device
        ids = torch.as_tensor(
            np.stack([m['token_ids'] for m in batch_img_metas]),
            device=device)
        mask = torch.as_tensor(
            np.stack([m['token_mask'] for m in batch_img_metas]),
            device=device)
        return ids, mask

    def encode(self, img: Tensor, token_ids: Tensor,
               token_mask: Tensor) -> tuple:
        """Backbone (image + text) then neck on plain tensors; returns the
        neck's output (the decode head's input)."""
        feats = self.backbone(img, token_ids, token_mask)
        return self.neck(feats['visual'], feats['words'], feats['sentence'],
                         feats['word_padding_mask'])

    def extract_feat(self, inputs: Tensor,
                     batch_img_metas: Optional[List[dict]] = None) -> tuple:
        """Tokens from the metainfo, then :meth:`encode`."""
        return self.encode(inputs, *self.text_inputs(batch_img_metas))

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        x = self.extract_feat(inputs, batch_img_metas)
        return self.decode_head.predict(x, batch_img_metas, self.test_cfg)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        x = self.extract_feat(inputs, [s.metainfo for s in data_samples])
        losses = self._decode_head_forward_train(x, data_samples)
        if self.with_auxiliary_head:
            losses.update(self._auxiliary_head_forward_train(x, data_samples))
        return losses

    def inference(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        """Whole-image inference (sliding windows would cut the referent)."""
        if self.test_cfg.get('mode', 'whole') != 'whole':
            raise ValueError("ReferringSegmentor supports test_cfg mode "
                             "'whole' only.")
        return self.encode_decode(inputs, batch_img_metas)

    def _forward(self,
                 inputs: Tensor,
                 data_samples: OptSampleList = None) -> Tensor:
        x = self.extract_feat(inputs, [s.metainfo for s in data_samples])
        return self.decode_head.forward(x)
