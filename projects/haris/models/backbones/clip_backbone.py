"""HuggingFace CLIP (vision + text towers) as a frozen, adapter-tuned
backbone."""
from typing import List, Optional, Sequence

import torch.nn as nn
from torch import Tensor

from mmseg.registry import MODELS
from .adapted_clip_base import DEFAULT_PEFT, AdaptedCLIPBackboneBase
from .adapted_clip_base import build_clip  # noqa: F401  (public helper)


@MODELS.register_module()
class HFCLIPBackbone(AdaptedCLIPBackboneBase):
    """Frozen HuggingFace CLIP with PEFT adapters.

    The original CLIP weights are frozen and kept in eval mode; only the
    adapters injected by ``peft`` train. The vision tower returns the patch
    tokens after the layers in ``out_indices`` as maps; the text tower
    returns word features, the pooled (EOT) sentence feature and the padding
    mask. To pair CLIP's text tower with an mmpretrain vision encoder, use
    :class:`MMPretrainCLIPTextBackbone`.

    Args:
        pretrained (str, optional): Hub id or local directory for
            ``CLIPModel.from_pretrained``. Defaults to None.
        clip_config (dict, optional): Arguments of ``CLIPConfig`` to build a
            randomly initialised CLIP (tests, demos). Defaults to None.
        out_indices (Sequence[int]): Vision layers (1-based; 0 is the patch
            embedding) whose outputs are returned. Defaults to (4, 8, 12).
        peft_cfg (dict, optional): A ``peft`` config as a dict with a
            ``peft_type`` key (LORA, IA3, ADALORA, ...). None trains no
            adapters. Defaults to LoRA r=8 on the attention projections of
            both towers.
        frozen (bool): Freeze the original CLIP weights. False fine-tunes
            the whole encoder (ablation). Defaults to True.
        vision_encoder (dict, optional): Not accepted here; an mmpretrain
            vision encoder is ``type='MMPretrainCLIPTextBackbone'`` with the
            same arguments. Defaults to None.
        gradient_checkpointing (bool): While training, recompute the
            activations of each layer of both towers in the backward pass
            instead of keeping them (non-reentrant ``torch.utils.checkpoint``,
            so adapters in frozen layers get gradients). Less activation
            memory, one more forward of the towers' layers per step; off in
            eval mode and under ``torch.no_grad()``. Defaults to False.
        init_cfg (dict, optional): Unused for CLIP; kept for mmengine.
    """

    def __init__(self,
                 pretrained: Optional[str] = None,
                 clip_config: Optional[dict] = None,
                 out_indices: Sequence[int] = (4, 8, 12),
                 peft_cfg: Optional[dict] = DEFAULT_PEFT,
                 frozen: bool = True,
                 vision_encoder: Optional[dict] = None,
                 gradient_checkpointing: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        if vision_encoder is not None:
            raise ValueError(
                'HFCLIPBackbone uses CLIP\'s own vision tower and takes no '
                '`vision_encoder`. For an mmpretrain vision encoder set '
                "model.backbone.type='MMPretrainCLIPTextBackbone' (same "
                'arguments; checkpoints load unchanged).')
        super().__init__(pretrained, clip_config, frozen,
                         gradient_checkpointing, init_cfg)
        vision_cfg = self.clip.config.vision_config
        num_layers = vision_cfg.num_hidden_layers
        if not all(0 <= i <= num_layers for i in out_indices):
            raise ValueError(
                f'out_indices {tuple(out_indices)} must lie in '
                f'[0, {num_layers}] for this CLIP vision tower.')
        self.out_indices = tuple(out_indices)
        self.patch_size = vision_cfg.patch_size
        self.inject_adapters(peft_cfg)

    def vision_encoders(self) -> List[nn.Module]:
        """CLIP's vision tower lives inside ``self.clip``."""
        return []

    def unused_modules(self) -> List[nn.Module]:
        """The visual projection, the vision post-norm and the vision layers
        after the deepest ``out_indices`` layer."""
        tower = self.clip.vision_model
        return [
            self.clip.visual_projection, tower.post_layernorm,
            *tower.encoder.layers[max(self.out_indices):]
        ]

    def _vision_maps(self, img: Tensor) -> List[Tensor]:
        """CLIP's vision tower runs only up to the deepest layer in
        ``out_indices``; the later layers and the post-norm (kept in the
        state dict, so checkpoints load strictly) are skipped."""
        b, _, h, w = img.shape
        tower = self.clip.vision_model
        # what CLIPVisionTransformer.forward does before its encoder
        x = tower.embeddings(img, interpolate_pos_encoding=True)
        x = tower.pre_layrnorm(x)  # (B, 1 + N, C)
        hidden = [x]  # hidden[i]: the tokens after layer i (0: embeddings)
        layers = tower.encoder.layers[:max(self.out_indices)]
        with self.checkpointing(layers):
            for layer in layers:
                x = layer(x, None, None)[0]
                hidden.append(x)
        grid = (h // self.patch_size, w // self.patch_size)
        maps = []
        for i in self.out_indices:
            tokens = hidden[i][:, 1:]  # (B, N, C), drop CLS
            maps.append(tokens.transpose(1, 2).reshape(b, -1, *grid))
        return maps
