"""An mmpretrain vision encoder beside CLIP's text tower, both frozen and
adapter-tuned."""
from typing import List, Optional

import torch.nn as nn
from torch import Tensor

from mmseg.registry import MODELS
from .adapted_clip_base import DEFAULT_PEFT, AdaptedCLIPBackboneBase


def build_mmpretrain_backbone(cfg: dict) -> nn.Module:
    """Build an mmpretrain backbone and load its weights now (before any
    adapter renames its layers)."""
    import mmpretrain.models  # noqa: F401  (registers the backbones)
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    cfg = dict(cfg)
    if not cfg['type'].startswith('mmpretrain.'):
        cfg['type'] = 'mmpretrain.' + cfg['type']
    if isinstance(cfg.get('out_indices'), tuple):  # mmpretrain edits it
        cfg['out_indices'] = list(cfg['out_indices'])
    cfg.setdefault('out_type', 'featmap')
    if cfg['out_type'] != 'featmap':
        raise ValueError(
            f"vision_encoder out_type {cfg['out_type']!r} gives no maps; "
            "HARIS needs out_type='featmap' (the default when left out).")
    backbone = PRETRAIN_MODELS.build(cfg)
    missing = [
        name for name in ('patch_embed', 'layers', 'out_indices')
        if not hasattr(backbone, name)
    ]
    if missing:
        raise TypeError(
            f'vision_encoder {cfg["type"]} has no {", ".join(missing)}: '
            'use a ViT-style mmpretrain backbone (VisionTransformer, '
            'ViTEVA02, ...).')
    backbone.init_weights()
    return backbone


@MODELS.register_module()
class MMPretrainCLIPTextBackbone(AdaptedCLIPBackboneBase):
    """An mmpretrain vision encoder with CLIP's text tower, frozen, with
    PEFT adapters.

    The mmpretrain backbone replaces CLIP's vision tower (which is not
    kept); the text tower, the outputs and the adapter handling are those
    of :class:`HFCLIPBackbone`. The vision encoder's weights are loaded at
    build time, then frozen and adapted like CLIP's: name its layers in
    ``peft_cfg['target_modules']`` (e.g. 'qkv', 'proj').

    Args:
        vision_encoder (dict): An mmpretrain backbone config
            (``VisionTransformer``, ``ViTEVA02``, DINOv2 archs, ...) with
            its own ``out_indices`` (0-based) and ``init_cfg`` (e.g.
            Pretrained). ``out_type`` defaults to 'featmap'.
        pretrained (str, optional): Hub id or local directory of the CLIP
            whose text tower is used. Defaults to None.
        clip_config (dict, optional): Arguments of ``CLIPConfig`` to build a
            randomly initialised CLIP (tests, demos). Defaults to None.
        peft_cfg (dict, optional): A ``peft`` config as a dict with a
            ``peft_type`` key (LORA, IA3, ADALORA, ...), applied to both
            encoders. None trains no adapters. Defaults to LoRA r=8 on
            CLIP's attention projections.
        frozen (bool): Freeze the original weights. False fine-tunes both
            encoders (ablation). Defaults to True.
        gradient_checkpointing (bool): While training, recompute the
            activations of each layer of the mmpretrain encoder and of
            CLIP's text tower in the backward pass instead of keeping them
            (non-reentrant ``torch.utils.checkpoint`` around each layer's
            forward, so adapters in frozen layers get gradients; the
            encoder's ``with_cp``, where it has one, is not needed). Less
            activation memory, one more forward of the layers per step;
            off in eval mode and under ``torch.no_grad()``. Defaults to
            False.
        init_cfg (dict, optional): Unused; kept for mmengine.
    """

    def __init__(self,
                 vision_encoder: dict,
                 pretrained: Optional[str] = None,
                 clip_config: Optional[dict] = None,
                 peft_cfg: Optional[dict] = DEFAULT_PEFT,
                 frozen: bool = True,
                 gradient_checkpointing: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(pretrained, clip_config, frozen,
                         gradient_checkpointing, init_cfg)
        del self.clip.vision_model, self.clip.visual_projection
        self.vision = build_mmpretrain_backbone(vision_encoder)
        self.out_indices = tuple(self.vision.out_indices)
        self.patch_size = self.vision.patch_embed.projection.stride[0]
        self.inject_adapters(peft_cfg)

    def vision_encoders(self) -> List[nn.Module]:
        """The mmpretrain backbone."""
        return [self.vision]

    def unused_modules(self) -> List[nn.Module]:
        """The layers after the deepest ``out_indices`` layer (mmpretrain
        runs them, but no output depends on them) and the final norm,
        which mmpretrain applies after the last layer only."""
        deepest = max(self.out_indices)
        unused = list(self.vision.layers[deepest + 1:])
        if getattr(self.vision, 'final_norm', False) and \
                deepest < len(self.vision.layers) - 1:
            unused.append(self.vision.ln1)
        return unused

    def _vision_maps(self, img: Tensor) -> List[Tensor]:
        with self.checkpointing(self.vision.layers):
            return list(self.vision(img))
