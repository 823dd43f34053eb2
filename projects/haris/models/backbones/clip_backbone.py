"""HuggingFace CLIP (vision + text towers) as a frozen, adapter-tuned
backbone."""
import os
from typing import Dict, Optional, Sequence

import peft
import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModule
from peft.tuners.tuners_utils import BaseTunerLayer
from torch import Tensor
from transformers import CLIPConfig, CLIPModel

from mmseg.registry import MODELS

DEFAULT_PEFT = dict(
    peft_type='LORA',
    r=8,
    lora_alpha=16,
    lora_dropout=0.1,
    target_modules=['q_proj', 'k_proj', 'v_proj', 'out_proj'])


def build_clip(pretrained: Optional[str],
               clip_config: Optional[dict]) -> CLIPModel:
    """Load CLIP from a hub id / local directory, or build it from a
    ``CLIPConfig`` dict (random weights)."""
    if (pretrained is None) == (clip_config is None):
        raise ValueError('HFCLIPBackbone needs exactly one of `pretrained` '
                         '(hub id or local directory) and `clip_config`.')
    if clip_config is not None:
        return CLIPModel(CLIPConfig(**clip_config))
    path = os.path.expanduser(pretrained)
    looks_local = pretrained.startswith(('.', '/', '~')) or \
        pretrained.count('/') > 1
    if looks_local and not os.path.isdir(path):
        raise FileNotFoundError(
            f'CLIP directory {pretrained!r} not found. Point '
            '`model.backbone.pretrained` at a folder saved with '
            '`save_pretrained` (config.json + weights) or at a hub id such '
            'as openai/clip-vit-base-patch16.')
    try:
        return CLIPModel.from_pretrained(path, trust_remote_code=False)
    except OSError as err:
        raise OSError(
            f'Could not load CLIP weights from {pretrained!r}: {err}\n'
            'Offline? Download the model once (or copy its folder) and set '
            '`model.backbone.pretrained` to that local directory.') from err


def build_mmpretrain_backbone(cfg: dict) -> nn.Module:
    """Build an mmpretrain backbone and load its weights now (before any
    adapter renames its layers)."""
    import mmpretrain.models  # noqa: F401  (registers the backbones)
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    cfg = dict(cfg)
    if not cfg['type'].startswith('mmpretrain.'):
        cfg['type'] = 'mmpretrain.' + cfg['type']
    cfg.setdefault('out_type', 'featmap')
    backbone = PRETRAIN_MODELS.build(cfg)
    backbone.init_weights()
    return backbone


@MODELS.register_module()
class HFCLIPBackbone(BaseModule):
    """Frozen HuggingFace CLIP with PEFT adapters.

    The original CLIP weights are frozen and kept in eval mode; only the
    adapters injected by ``peft`` train. The vision tower returns the patch
    tokens after the layers in ``out_indices`` as maps; the text tower
    returns word features, the pooled (EOT) sentence feature and the padding
    mask.

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
        vision_encoder (dict, optional): An mmpretrain backbone config
            (``VisionTransformer``, ``ViTEVA02``, DINOv2 archs, ...) with
            ``out_type='featmap'`` and its own ``out_indices`` (0-based) and
            ``init_cfg`` (e.g. Pretrained). It replaces CLIP's vision tower;
            the text tower stays CLIP. Its weights are loaded at build time,
            then frozen and adapted like CLIP's (name its layers in
            ``peft_cfg['target_modules']``, e.g. 'qkv', 'proj').
            Defaults to None.
        init_cfg (dict, optional): Unused for CLIP; kept for mmengine.
    """

    def __init__(self,
                 pretrained: Optional[str] = None,
                 clip_config: Optional[dict] = None,
                 out_indices: Sequence[int] = (4, 8, 12),
                 peft_cfg: Optional[dict] = DEFAULT_PEFT,
                 frozen: bool = True,
                 vision_encoder: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.clip = build_clip(pretrained, clip_config)
        self.text_channels = self.clip.config.text_config.hidden_size
        self.vision = None
        if vision_encoder is None:
            vision_cfg = self.clip.config.vision_config
            num_layers = vision_cfg.num_hidden_layers
            if not all(0 <= i <= num_layers for i in out_indices):
                raise ValueError(
                    f'out_indices {tuple(out_indices)} must lie in '
                    f'[0, {num_layers}] for this CLIP vision tower.')
            self.out_indices = tuple(out_indices)
            self.patch_size = vision_cfg.patch_size
        else:
            self.vision = build_mmpretrain_backbone(vision_encoder)
            del self.clip.vision_model, self.clip.visual_projection
            self.out_indices = tuple(self.vision.out_indices)
            self.patch_size = self.vision.patch_embed.projection.stride[0]
        self.frozen = frozen
        encoders = [m for m in (self.clip, self.vision) if m is not None]
        for encoder in encoders:
            encoder.requires_grad_(not frozen)
            if peft_cfg is not None:
                config = peft.get_peft_config(dict(peft_cfg))
                peft.inject_adapter_in_model(config, encoder)
                if not frozen:  # full fine-tuning trains the base weights too
                    encoder.requires_grad_(True)
        self.freeze_unused()
        total = sum(p.numel() for p in self.parameters())
        trainable = sum(p.numel() for p in self.parameters()
                        if p.requires_grad)
        print_log(
            f'HFCLIPBackbone: {trainable:,} trainable of {total:,} '
            'parameters', logger='current')

    def freeze_unused(self) -> None:
        """Parameters HARIS never reaches (contrastive projections, the
        vision post-norm, vision layers after the last ``out_indices``)
        get no gradient, so DDP sees no unused trainable parameter."""
        unused = [self.clip.text_projection]
        if self.vision is None:
            unused += [
                self.clip.visual_projection,
                self.clip.vision_model.post_layernorm,
                *self.clip.vision_model.encoder.layers[max(self.out_indices):]
            ]
        for module in unused:
            module.requires_grad_(False)
        self.clip.logit_scale.requires_grad_(False)

    def init_weights(self) -> None:
        """Leave CLIP's weights untouched (loaded, or set by CLIPConfig) and
        the adapters as peft initialised them."""

    def train(self, mode: bool = True) -> 'HFCLIPBackbone':
        """Keep frozen CLIP in eval mode; adapters follow ``mode``."""
        super().train(mode)
        if self.frozen:
            for encoder in (self.clip, self.vision):
                if encoder is None:
                    continue
                encoder.eval()
                for module in encoder.modules():
                    if isinstance(module, BaseTunerLayer):
                        module.train(mode)
        return self

    def forward_vision(self, img: Tensor) -> list:
        """Patch-token maps after the layers in ``out_indices``.

        CLIP's vision tower runs only up to the deepest layer in
        ``out_indices``; the later layers and the post-norm (kept in the
        state dict, so checkpoints load strictly) are skipped.
        """
        b, _, h, w = img.shape
        if h % self.patch_size or w % self.patch_size:
            raise ValueError(f'Input size {h}x{w} must be a multiple of the '
                             f'patch size {self.patch_size}.')
        if self.vision is not None:
            return list(self.vision(img))
        tower = self.clip.vision_model
        # what CLIPVisionTransformer.forward does before its encoder
        x = tower.embeddings(img, interpolate_pos_encoding=True)
        x = tower.pre_layrnorm(x)  # (B, 1 + N, C)
        hidden = [x]  # hidden[i]: the tokens after layer i (0: embeddings)
        for layer in tower.encoder.layers[:max(self.out_indices)]:
            x = layer(x, None, None)[0]
            hidden.append(x)
        grid = (h // self.patch_size, w // self.patch_size)
        maps = []
        for i in self.out_indices:
            tokens = hidden[i][:, 1:]  # (B, N, C), drop CLS
            maps.append(tokens.transpose(1, 2).reshape(b, -1, *grid))
        return maps

    def forward_text(self, token_ids: Tensor,
                     token_mask: Tensor) -> Dict[str, Tensor]:
        """Word features (B, L, C), sentence feature (B, C), padding mask
        (B, L) with True at padding."""
        out = self.clip.text_model(
            input_ids=token_ids, attention_mask=token_mask.long())
        return dict(
            words=out.last_hidden_state,
            sentence=out.pooler_output,
            word_padding_mask=~token_mask.bool())

    def forward(self,
                img: Tensor,
                token_ids: Tensor,
                token_mask: Tensor,
                image_index: Optional[Tensor] = None) -> Dict[str, object]:
        """Returns a dict with ``visual`` (list of (B, C, H/p, W/p) maps),
        ``words``, ``sentence`` and ``word_padding_mask``.

        Args:
            img (Tensor): (B, 3, H, W) images, one per sentence; or, with
                ``image_index``, the (G, 3, H, W) distinct images.
            token_ids (Tensor): (B, L) token ids.
            token_mask (Tensor): (B, L), True at real tokens.
            image_index (Tensor, optional): (B,) index into ``img`` of each
                sentence's image. The vision tower then runs once per
                distinct image and its maps are shared by that image's
                sentences. Defaults to None (one image per sentence).
        """
        feats = self.forward_text(token_ids, token_mask)
        visual = self.forward_vision(img)
        if image_index is not None:
            visual = [v.index_select(0, image_index) for v in visual]
        feats['visual'] = visual
        return feats

    def set_adapters_enabled(self, enabled: bool) -> None:
        """Switch the injected adapters on or off (off = original CLIP)."""
        for module in self.modules():
            if isinstance(module, BaseTunerLayer):
                module.enable_adapters(enabled)

    def tuner_layers(self) -> list:
        """The layers that ``peft`` injected adapters into."""
        return [m for m in self.modules() if isinstance(m, BaseTunerLayer)]

    @property
    def adapters_merged(self) -> bool:
        """Whether the adapters are folded into the CLIP weights."""
        return any(m.merged for m in self.tuner_layers())

    @torch.no_grad()
    def merge_adapters(self) -> None:
        """Fold the adapters into the CLIP weights (faster inference).

        Exact up to float rounding for LoRA, AdaLoRA and IA3 in eval mode
        (dropout off). A merged backbone must not be trained or saved: its
        base weights then hold the adapters' contribution. Loading a state
        dict unmerges first, so the loaded weights are used as they are.
        """
        for module in self.tuner_layers():
            module.merge()

    @torch.no_grad()
    def unmerge_adapters(self) -> None:
        """Subtract merged adapters from the CLIP weights again (exact up to
        float rounding)."""
        for module in self.tuner_layers():
            if module.merged:
                module.unmerge()

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        # Weights loaded into merged layers would keep the ``merged`` flag
        # and ignore the newly loaded adapters.
        self.unmerge_adapters()
        super()._load_from_state_dict(*args, **kwargs)
