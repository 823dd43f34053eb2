"""Segment with an exported ONNX model on the CPU (ONNX Runtime).

Example:
    python tools/deployment/onnx_inference.py photo.jpg "the red circle" \
        --config configs/haris_synthetic.py --onnx haris.onnx --out out.png

The config gives the preprocessing: the same test pipeline (letterbox,
tokenizer) and data preprocessor (normalisation, padding) as
``RefSegInferencer``, and mmseg's post-processing (crop the padding,
resize to the image, sigmoid, threshold). Only the network runs in ONNX
Runtime, so the result dicts are the inferencer's.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from torch import Tensor

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from mmseg.models.decode_heads.decode_head import BaseDecodeHead  # noqa
from mmseg.models.segmentors.base import BaseSegmentor  # noqa: E402
from mmseg.utils import OptSampleList, SampleList  # noqa: E402
from projects.haris.apis import RefSegInferencer  # noqa: E402
from projects.haris.models.segmentors import ReferringSegmentor  # noqa

INPUT_NAMES = ('image', 'token_ids', 'token_mask')
NO_TARGET_OUTPUT = 'no_target_logit'


class _HeadSettings(nn.Module):
    """What mmseg's post-processing reads from a decode head."""

    def __init__(self, threshold: float, align_corners: bool) -> None:
        super().__init__()
        self.threshold = threshold
        self.align_corners = align_corners

    predict_by_feat = BaseDecodeHead.predict_by_feat


class OnnxReferringSegmentor(BaseSegmentor):
    """``ReferringSegmentor``'s prediction with the network (backbone,
    neck, decode head) run by ONNX Runtime.

    Everything around the network is the PyTorch model's own code: the
    data preprocessor built from the config, the text inputs read from the
    samples' metainfo, the decode head's resizing to the padded input and
    mmseg's ``postprocess_result``.

    Args:
        onnx_file (str): Written by ``tools/deployment/export_onnx.py``.
        data_preprocessor (dict): The config's ``model.data_preprocessor``.
        threshold (float): Sigmoid threshold of the mask (the config's
            ``decode_head.threshold``).
        align_corners (bool): The decode head's ``align_corners``.
        threads (int, optional): ONNX Runtime's intra-op threads; None
            lets it choose.
    """

    def __init__(self,
                 onnx_file: str,
                 data_preprocessor: dict,
                 threshold: float = 0.5,
                 align_corners: bool = False,
                 threads: Optional[int] = None) -> None:
        import onnxruntime as ort
        super().__init__(data_preprocessor=data_preprocessor)
        if not osp.isfile(onnx_file):
            raise FileNotFoundError(
                f'ONNX model {onnx_file} not found; write it with '
                'tools/deployment/export_onnx.py CONFIG CHECKPOINT --out '
                f'{onnx_file}.')
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(
            onnx_file, options, providers=['CPUExecutionProvider'])
        names = [i.name for i in self.session.get_inputs()]
        if names != list(INPUT_NAMES):
            raise ValueError(f'{onnx_file} takes inputs {names}; expected '
                             f'{list(INPUT_NAMES)} (export it with '
                             'tools/deployment/export_onnx.py).')
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.decode_head = _HeadSettings(threshold, align_corners)
        self.align_corners = align_corners

    text_inputs = ReferringSegmentor.text_inputs

    def run(self, inputs: Tensor, token_ids: Tensor,
            token_mask: Tensor) -> List[np.ndarray]:
        """The ONNX model's outputs for a preprocessed batch."""
        feed = dict(
            image=inputs.float().cpu().numpy(),
            token_ids=token_ids.long().cpu().numpy(),
            token_mask=token_mask.bool().cpu().numpy())
        return self.session.run(None, feed)

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        """Mask logits at the padded input's size."""
        return self._encode_decode(inputs, batch_img_metas)[0]

    def _encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]):
        outs = self.run(inputs, *self.text_inputs(batch_img_metas))
        logits = torch.from_numpy(outs[0]).to(inputs.device)
        return self.decode_head.predict_by_feat(logits,
                                                batch_img_metas), outs

    def predict(self,
                inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        metas = [s.metainfo for s in data_samples]
        seg_logits, outs = self._encode_decode(inputs, metas)
        samples = self.postprocess_result(seg_logits, data_samples)
        if NO_TARGET_OUTPUT in self.output_names:
            # --- generalized referring: the exported no-target logit
            logit = outs[self.output_names.index(NO_TARGET_OUTPUT)]
            prob = 1 / (1 + np.exp(-logit.reshape(len(samples), -1)[:, 0]))
            for sample, p in zip(samples, prob):
                sample.set_field(float(p), 'no_target_prob',
                                 field_type='metainfo')
        return samples

    def extract_feat(self, inputs: Tensor):
        raise NotImplementedError('The ONNX model has no separate features.')

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        raise NotImplementedError('An ONNX model does not train.')

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None):
        return self.encode_decode(inputs,
                                  [s.metainfo for s in data_samples])


class OnnxRefSegInferencer(RefSegInferencer):
    """:class:`RefSegInferencer` whose network runs in ONNX Runtime (CPU).

    Same calls and result dicts; each sentence gets its own copy of the
    image (the exported model takes one image per sentence).

    Args:
        config (str | Config): The config the model was exported from.
        onnx_file (str): The exported model.
        threads (int, optional): ONNX Runtime's intra-op threads.
    """

    def __init__(self, config, onnx_file: str,
                 threads: Optional[int] = None) -> None:
        cfg = Config.fromfile(config) if isinstance(config, str) else config
        init_default_scope(cfg.get('default_scope', 'mmseg'))
        head = cfg.model.decode_head
        self.model = OnnxReferringSegmentor(
            onnx_file,
            cfg.model.data_preprocessor,
            threshold=head.get('threshold', 0.5),
            align_corners=head.get('align_corners', False),
            threads=threads)
        self.model.cfg = cfg
        self.model.eval()
        self.pipeline = Compose(self.test_pipeline(cfg))

    def __call__(self, images, texts, batch_size: int = 8) -> List[dict]:
        """As :meth:`RefSegInferencer.__call__`; a model exported with a
        no-target output adds ``no_target`` (bool) and ``no_target_score``
        (its probability) to each result."""
        if NO_TARGET_OUTPUT not in self.model.output_names:
            return super().__call__(images, texts, batch_size)
        # --- generalized referring: carry the no-target probability that
        # predict() put in each sample's metainfo over to its result dict
        # (matched by the sample's own token array, which the result holds)
        outputs, test_step = [], self.model.test_step

        def recording_test_step(batch):
            outs = test_step(batch)
            outputs.extend(outs)
            return outs

        self.model.test_step = recording_test_step
        try:
            results = super().__call__(images, texts, batch_size)
        finally:
            del self.model.test_step
        prob_of = {
            id(o.metainfo['token_ids']): o.metainfo['no_target_prob']
            for o in outputs
        }
        for result in results:
            prob = prob_of[id(result['token_ids'])]
            result['no_target'] = bool(prob > 0.5)
            result['no_target_score'] = prob
        return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('image', help='image file')
    parser.add_argument('expressions', nargs='+', help='one or more '
                        'referring expressions (quote each)')
    parser.add_argument('--config', required=True)
    parser.add_argument('--onnx', required=True, help='exported model')
    parser.add_argument('--out', default='overlay.png',
                        help='overlay file; more expressions add _1, _2')
    args = parser.parse_args()
    for path, what in ((args.image, 'Image'), (args.config, 'Config')):
        if not osp.isfile(path):
            sys.exit(f'{what} {path} not found.')
    import mmcv
    try:
        inferencer = OnnxRefSegInferencer(args.config, args.onnx)
        results = inferencer(args.image, args.expressions)
    except (ValueError, FileNotFoundError) as err:
        sys.exit(str(err))
    stem, ext = osp.splitext(args.out)
    for i, result in enumerate(results):
        out = args.out if i == 0 else f'{stem}_{i}{ext or ".png"}'
        mmcv.imwrite(inferencer.overlay(args.image, result), out)
        print(f'{out}: "{result["text"]}" score {result["score"]:.3f}, '
              f'{int(result["mask"].sum())} pixels')


if __name__ == '__main__':
    main()
