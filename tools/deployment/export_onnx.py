"""Export a HARIS model to ONNX: (image, token_ids, token_mask) -> mask
logits at 1/4 of the input.

Example:
    python tools/deployment/export_onnx.py configs/haris_synthetic.py \
        work_dirs/haris_synthetic/iter_3000.pth --out haris.onnx
    python tools/deployment/export_onnx.py --model owner/name \
        --out haris.onnx  # or a model folder

The encoders' adapters are merged into their weights first. Batch, text
length, height and width are dynamic axes; the export is checked against
PyTorch at ``--size`` (defaults to the config's letterbox size) and the
maximum absolute difference is printed. Run the exported model with
``tools/deployment/onnx_inference.py``.
"""
import argparse
import contextlib
import logging
import os
import os.path as osp
import sys
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from torch import Tensor

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

INPUT_NAMES = ('image', 'token_ids', 'token_mask')
MASK_OUTPUT = 'mask_logits'
NO_TARGET_OUTPUT = 'no_target_logit'


class ReferringOnnxModel(nn.Module):
    """A :class:`ReferringSegmentor` as one plain-tensor function.

    ``forward(image, token_ids, token_mask)`` runs the backbone, the neck
    and the decode head (no letterbox, no resizing, no sigmoid): what the
    segmentor's ``decode`` computes before mmseg's post-processing, with
    one image per sentence.

    Outputs: ``mask_logits`` (B, 1, H/4, W/4) for a patch-16 CLIP (the
    decode head's resolution) and, for a decode head built with the
    no-target output (``QueryDecodeHead(no_target=True)``), its
    ``no_target_logit`` (B, 1).

    Args:
        segmentor (nn.Module): A built ``ReferringSegmentor`` in eval mode,
            adapters merged (see :func:`load_for_export`).
    """

    def __init__(self, segmentor: nn.Module) -> None:
        super().__init__()
        self.segmentor = segmentor

    @property
    def with_no_target(self) -> bool:
        head = self.segmentor.decode_head
        return getattr(head, 'no_target_cls', None) is not None

    @property
    def output_names(self) -> List[str]:
        if self.with_no_target:
            return [MASK_OUTPUT, NO_TARGET_OUTPUT]
        return [MASK_OUTPUT]

    def forward(self, image: Tensor, token_ids: Tensor,
                token_mask: Tensor) -> Tuple[Tensor, ...]:
        """
        Args:
            image (Tensor): (B, 3, H, W) normalised, letterboxed images, one
                per sentence; H and W multiples of the patch size.
            token_ids (Tensor): (B, L) int64 token ids.
            token_mask (Tensor): (B, L) bool, True at real tokens.
        """
        feats = self.segmentor.encode(image, token_ids, token_mask.bool())
        head = self.segmentor.decode_head
        if not hasattr(head, 'decode'):  # another mmseg head: logits only
            return (head.forward(feats), )
        masks, no_target = head.decode(feats)
        if no_target is None:
            return (masks[-1], )
        return masks[-1], no_target  # (B, 1, h, w), (B, 1)


def load_for_export(config=None,
                    checkpoint: Optional[str] = None,
                    pretrained: Optional[str] = None) -> nn.Module:
    """The config's segmentor (or the model folder or hub id
    ``pretrained``'s) on CPU in eval mode, weights loaded as
    :class:`RefSegInferencer` loads them, adapters merged."""
    from projects.haris.apis import RefSegInferencer
    if pretrained is not None:
        model = RefSegInferencer.from_pretrained(pretrained, 'cpu').model
    else:
        model = RefSegInferencer(config, checkpoint, device='cpu').model
    model.eval()
    model.merge_adapters()
    return model


def example_inputs(batch: int, size: Sequence[int], length: int,
                   words: Sequence[int] = (5, 3)) -> Tuple[Tensor, ...]:
    """Random images and start/word/end token rows of ``words[i]`` real
    tokens, padded to ``length`` (ids 0 and mask False at padding)."""
    image = torch.randn(batch, 3, *size)
    ids = torch.zeros(batch, length, dtype=torch.long)
    mask = torch.zeros(batch, length, dtype=torch.bool)
    for i in range(batch):
        n = min(words[i % len(words)] + 2, length)
        ids[i, 0] = 49406  # CLIP's start and end of text
        ids[i, 1:n - 1] = torch.randint(300, 40000, (n - 2, ))
        ids[i, n - 1] = 49407
        mask[i, :n] = True
    return image, ids, mask


def trace_size(size: Sequence[int], patch: int,
               native: int) -> Tuple[int, int]:
    """A size to trace the export at: ``size`` unless it is square (then
    one patch wider), so it is neither square nor CLIP's native size.

    transformers' CLIP skips its position-embedding interpolation for a
    square input of the native size unless it is being traced by
    TorchScript; tracing at such a size would bake the shortcut (and the
    native grid) into the graph.
    """
    h, w = int(size[0]), int(size[1])
    if h == w or (h == native and w == native):
        w += patch
    return h, w


def export_onnx(model: nn.Module,
                out: str,
                size: Sequence[int],
                opset: int = 18,
                text_length: int = 22) -> List[str]:
    """Export ``model`` (a merged ``ReferringSegmentor``) to ``out`` with
    torch's dynamo exporter; batch, text length, height and width are
    dynamic. Returns the output names."""
    from torch.export import Dim
    wrapper = ReferringOnnxModel(model).eval()
    backbone = model.backbone
    patch = backbone.patch_size
    native = backbone.clip.config.vision_config.image_size
    for s in size:
        if s % patch:
            raise ValueError(f'--size {tuple(size)}: height and width must '
                             f'be multiples of the patch size {patch}.')
    args = example_inputs(2, trace_size(size, patch, native), text_length)
    batch, length = Dim('batch'), Dim('text_length', max=77)
    height = Dim('height_patches', min=1) * patch
    width = Dim('width_patches', min=1) * patch
    dynamic = dict(
        image={0: batch, 2: height, 3: width},
        token_ids={0: batch, 1: length},
        token_mask={0: batch, 1: length})
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    tmp = out + '.tmp'
    with torch.no_grad(), quiet_exporter():
        program = torch.onnx.export(
            wrapper,
            args,
            dynamo=True,
            input_names=list(INPUT_NAMES),
            output_names=wrapper.output_names,
            dynamic_shapes=dynamic,
            opset_version=opset,
            external_data=False,
            verbose=False)
    program.save(tmp)
    name_output_axes(tmp)
    os.replace(tmp, out)
    return wrapper.output_names


@contextlib.contextmanager
def quiet_exporter():
    """Silence, for one export, the exporter's notes that are not about
    our model: onnxscript's optimizer logs every multi-output node it
    leaves unfolded, and torch warns that image and tokens share the
    batch axis (which is meant)."""
    log = logging.getLogger('onnxscript.optimizer._constant_folding')
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', message='# The axis name')
            yield
    finally:
        log.setLevel(level)


def name_output_axes(onnx_file: str) -> None:
    """Name the outputs' dynamic axes (the exporter numbers them): batch,
    then mask_height/mask_width for 4-D outputs."""
    import onnx
    proto = onnx.load(onnx_file)
    for output in proto.graph.output:
        dims = output.type.tensor_type.shape.dim
        names = ['batch', None, 'mask_height', 'mask_width'][:len(dims)]
        for dim, name in zip(dims, names):
            if name is not None and dim.dim_param:
                dim.dim_param = name
    onnx.save(proto, onnx_file)


@torch.no_grad()
def compare(model: nn.Module, onnx_file: str, inputs: Sequence[Tensor],
            threshold: float = 0.5) -> Dict[str, float]:
    """ONNX Runtime (CPU) against PyTorch on ``inputs``: the largest
    absolute difference of each output and the IoU of the masks
    binarised at ``threshold`` (sigmoid)."""
    import onnxruntime as ort
    wrapper = ReferringOnnxModel(model).eval()
    expected = wrapper(*inputs)
    session = ort.InferenceSession(
        onnx_file, providers=['CPUExecutionProvider'])
    got = session.run(None, {
        name: t.numpy()
        for name, t in zip(INPUT_NAMES, inputs)
    })
    stats = {}
    for name, ref, value in zip(wrapper.output_names, expected, got):
        if ref.shape != value.shape:
            raise AssertionError(f'{name}: ONNX shape {value.shape}, '
                                 f'PyTorch {tuple(ref.shape)}')
        stats[f'{name}_max_abs_diff'] = float(
            np.abs(ref.numpy() - value).max())
    logit = np.log(threshold / (1 - threshold))
    a, b = expected[0].numpy() > logit, got[0] > logit
    union = (a | b).sum()
    stats['mask_iou'] = float((a & b).sum() / union) if union else 1.0
    return stats


def parse_args(argv=None):
    from projects.haris.apis.model_source import (add_model_option,
                                                  check_model_arguments)
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?', help='model config')
    parser.add_argument('checkpoint', nargs='?',
                        help='checkpoint of tools/train.py')
    add_model_option(parser)
    parser.add_argument('--out', default='haris.onnx', help='ONNX file')
    parser.add_argument(
        '--size', type=int, nargs=2, metavar=('H', 'W'),
        help='input size to check the export at; defaults to the '
        "config's letterbox size (model.data_preprocessor.size)")
    parser.add_argument('--opset', type=int, default=18)
    args = parser.parse_args(argv)
    check_model_arguments(parser, args)
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        model = load_for_export(args.config, args.checkpoint, args.model)
        cfg = model.cfg
        size = args.size or cfg.model.data_preprocessor.get('size')
        if size is None:
            sys.exit('The config has no model.data_preprocessor.size; '
                     'give --size H W.')
        length = next((step['context_length']
                       for step in cfg.test_dataloader.dataset.pipeline
                       if step['type'] == 'TokenizeExpression'), 22)
        names = export_onnx(model, args.out, size, args.opset, length)
    except (ValueError, FileNotFoundError) as err:
        sys.exit(str(err))
    import onnx
    onnx.checker.check_model(args.out, full_check=True)
    stats = compare(model, args.out, example_inputs(2, size, length))
    print(f'{args.out}: inputs {list(INPUT_NAMES)}, outputs {names}; '
          f'checked at {size[0]}x{size[1]}: ' +
          ', '.join(f'{k} {v:.3g}' for k, v in stats.items()))


if __name__ == '__main__':
    main()
