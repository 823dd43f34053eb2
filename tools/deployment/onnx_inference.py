"""Segment with an exported ONNX model on the CPU (ONNX Runtime).

Example:
    python tools/deployment/onnx_inference.py photo.jpg "the red circle" \
        --config configs/haris_synthetic.py --onnx haris.onnx --out out.png

The config gives the preprocessing: the same test pipeline (letterbox,
tokenizer) and data preprocessor (normalisation, padding) as
``RefSegInferencer``, and the segmentor's own post-processing
(``postprocess_referring``: crop the padding, resize to the image,
sigmoid, threshold, the no-target answer). Only the network runs in ONNX
Runtime, so the result dicts are the inferencer's.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from torch import Tensor

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from mmseg.models.segmentors.base import BaseSegmentor  # noqa: E402
from mmseg.registry import MODELS  # noqa: E402
from mmseg.utils import OptSampleList, SampleList  # noqa: E402
from projects.haris.apis import RefSegInferencer  # noqa: E402
from projects.haris.models.segmentors.referring_postprocess import (  # noqa
    check_whole_mode, postprocess_referring, text_inputs)
from tools.deployment.export_onnx import (  # noqa: E402
    INPUT_NAMES, MASK_OUTPUT, NO_TARGET_OUTPUT)


class OnnxReferringSegmentor(BaseSegmentor):
    """``ReferringSegmentor``'s prediction with the network (backbone,
    neck, decode head) run by ONNX Runtime.

    Everything around the network is the PyTorch model's own code: the
    data preprocessor built from the config, the text inputs read from the
    samples' metainfo, the config's decode head (built for its resizing to
    the padded input and its thresholds and options; its weights are not
    used) and ``postprocess_referring``, the post-processing
    ``ReferringSegmentor.predict`` calls (mmseg's, and the no-target answer
    when the model has that output).

    Args:
        onnx_file (str): Written by ``tools/deployment/export_onnx.py``.
        data_preprocessor (dict): The config's ``model.data_preprocessor``.
        decode_head (dict): The config's ``model.decode_head``.
        test_cfg (dict, optional): The config's ``model.test_cfg``.
        threads (int, optional): ONNX Runtime's intra-op threads; None
            lets it choose.
    """

    def __init__(self,
                 onnx_file: str,
                 data_preprocessor: dict,
                 decode_head: dict,
                 test_cfg: Optional[dict] = None,
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
        self.test_cfg = dict(test_cfg or {})
        self.decode_head = MODELS.build(decode_head)
        self.align_corners = self.decode_head.align_corners

    def predict(self,
                inputs: Tensor,
                data_samples: OptSampleList = None) -> SampleList:
        """As ``ReferringSegmentor.predict``: the network's outputs, then
        the shared post-processing."""
        check_whole_mode(self.test_cfg)
        metas = [] if data_samples is None else [
            s.metainfo for s in data_samples
        ]
        logits, no_target = self.decode(inputs, metas)
        return postprocess_referring(self, logits, data_samples, no_target)

    def run(self, inputs: Tensor, token_ids: Tensor,
            token_mask: Tensor) -> List[np.ndarray]:
        """The ONNX model's outputs for a preprocessed batch."""
        feed = dict(
            image=inputs.float().cpu().numpy(),
            token_ids=token_ids.long().cpu().numpy(),
            token_mask=token_mask.bool().cpu().numpy())
        return self.session.run(None, feed)

    def decode(self, inputs: Tensor, batch_img_metas: List[dict]):
        """As ``ReferringSegmentor.decode``: mask logits at the padded
        input's size and the no-target probabilities (B, ) or None."""
        tokens = text_inputs(batch_img_metas, inputs.device)
        outs = dict(zip(self.output_names, self.run(inputs, *tokens)))
        logits = torch.from_numpy(outs[MASK_OUTPUT]).to(inputs.device)
        logits = self.decode_head.predict_by_feat(logits, batch_img_metas)
        no_target = outs.get(NO_TARGET_OUTPUT)
        if no_target is not None:
            no_target = torch.from_numpy(no_target[:, 0]).sigmoid()
        return logits, no_target

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        return self.decode(inputs, batch_img_metas)[0]

    def merge_adapters(self) -> None:
        """The exported weights hold the adapters already."""

    def extract_feat(self, inputs: Tensor):
        raise NotImplementedError('The ONNX model has no separate features.')

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        raise NotImplementedError('An ONNX model does not train.')

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None):
        return self.encode_decode(inputs,
                                  [s.metainfo for s in data_samples])


class OnnxRefSegInferencer(RefSegInferencer):
    """:class:`RefSegInferencer` whose network runs in ONNX Runtime (CPU).

    Same calls and result dicts (``no_target`` and ``no_target_score``
    included for a model exported with the no-target output); each
    sentence gets its own copy of the image (the exported model takes one
    image per sentence).

    Args:
        config (str | Config): The config the model was exported from.
        onnx_file (str): The exported model.
        threads (int, optional): ONNX Runtime's intra-op threads.
    """

    def __init__(self, config, onnx_file: str,
                 threads: Optional[int] = None) -> None:
        cfg = Config.fromfile(config) if isinstance(config, str) else config
        init_default_scope(cfg.get('default_scope', 'mmseg'))
        self.model = OnnxReferringSegmentor(
            onnx_file,
            cfg.model.data_preprocessor,
            cfg.model.decode_head,
            test_cfg=cfg.model.get('test_cfg'),
            threads=threads)
        self.model.cfg = cfg
        self.model.eval()
        self.pipeline = Compose(self.test_pipeline(cfg))


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
    try:
        inferencer = OnnxRefSegInferencer(args.config, args.onnx)
        results = inferencer(args.image, args.expressions)
    except (ValueError, FileNotFoundError) as err:
        sys.exit(str(err))
    for line in inferencer.save_overlays(args.image, results, args.out):
        print(line)


if __name__ == '__main__':
    main()
