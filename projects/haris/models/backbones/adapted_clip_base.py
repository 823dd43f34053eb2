"""What every HARIS backbone shares: CLIP's text tower, a vision encoder,
both frozen and tuned through ``peft`` adapters."""
import os
import re
from typing import Dict, List, Optional

import peft
import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModule
from peft.tuners.tuners_utils import BaseTunerLayer
from torch import Tensor
from transformers import CLIPConfig, CLIPModel

from .gradient_checkpointing import checkpointed_layers

DEFAULT_PEFT = dict(
    peft_type='LORA',
    r=8,
    lora_alpha=16,
    lora_dropout=0.1,
    target_modules=['q_proj', 'k_proj', 'v_proj', 'out_proj'])


def is_local_path(pretrained: str) -> bool:
    """Whether ``pretrained`` names a folder rather than a hub id: it
    exists, starts with '.', '/' or '~', has more than one '/' (hub ids
    are 'owner/name'), or its first component exists here (e.g.
    ``work_dirs/tiny_clip`` where ``work_dirs`` exists)."""
    path = os.path.expanduser(pretrained)
    first = pretrained.replace(os.sep, '/').split('/')[0]
    return (os.path.exists(path) or pretrained.startswith(('.', '/', '~'))
            or pretrained.count('/') > 1 or os.path.exists(first))


def build_clip(pretrained: Optional[str],
               clip_config: Optional[dict]) -> CLIPModel:
    """Load CLIP from a hub id / local directory, or build it from a
    ``CLIPConfig`` dict (random weights)."""
    if (pretrained is None) == (clip_config is None):
        raise ValueError('The backbone needs exactly one of `pretrained` '
                         '(hub id or local directory) and `clip_config`.')
    if clip_config is not None:
        return CLIPModel(CLIPConfig(**clip_config))
    path = os.path.expanduser(pretrained)
    fix = ('Point `model.backbone.pretrained` at a folder saved with '
           '`save_pretrained` (config.json + weights; the demo\'s '
           '`python tools/pretrain_clip.py configs/haris_synthetic.py '
           '--out work_dirs/tiny_clip` writes one) or at a hub id such as '
           'openai/clip-vit-base-patch16.')
    if is_local_path(pretrained):
        if not os.path.isdir(path):
            raise FileNotFoundError(
                f'CLIP folder {pretrained!r} not found (looked for '
                f'{os.path.abspath(path)}). {fix}')
        try:
            return CLIPModel.from_pretrained(path, trust_remote_code=False)
        except OSError as err:
            raise OSError(f'CLIP folder {pretrained!r} could not be loaded: '
                          f'{err}\n{fix}') from err
    try:
        return CLIPModel.from_pretrained(path, trust_remote_code=False)
    except OSError as err:
        raise OSError(
            f'Could not load CLIP weights from {pretrained!r}, read as a '
            f'hub id (there is no local folder {os.path.abspath(path)}): '
            f'{err}\nOffline? Download the model once (or copy its folder) '
            f'and set `model.backbone.pretrained` to that local directory. '
            f'{fix}') from err


def exclude_modules(config: peft.PeftConfig, names: List[str]) -> None:
    """Add the modules ``names`` and everything inside them to the
    modules ``config`` leaves without adapters, beside its own
    ``exclude_modules``.

    Adapters there would be frozen (nothing there is used) but randomly
    initialised, so a checkpoint would depend on the random seed.
    """
    if not names or not hasattr(config, 'exclude_modules'):
        return
    pattern = r'(?:{})(?:\..*)?'.format('|'.join(map(re.escape, names)))
    own = config.exclude_modules
    if isinstance(own, str):  # a regex, matched against the full name
        pattern += f'|(?:{own})'
    elif own:  # names, matched as the end of a module's name
        pattern += r'|(?:.*\.)?(?:{})'.format('|'.join(
            map(re.escape, sorted(own))))
    config.exclude_modules = pattern


class AdaptedCLIPBackboneBase(BaseModule):
    """CLIP's text tower plus a vision encoder, frozen, with adapters.

    The original weights are frozen and kept in eval mode; only the
    adapters injected by ``peft`` train. Modules HARIS never reaches (see
    :meth:`unused_modules`) get no gradient, so DDP finds no unused
    trainable parameter.

    A subclass builds its vision encoder after calling this ``__init__``,
    then calls :meth:`inject_adapters`, and implements
    :meth:`vision_encoders`, :meth:`unused_modules` and :meth:`_vision_maps`;
    it sets ``out_indices`` and ``patch_size``.

    Args:
        pretrained (str, optional): Hub id or local directory for
            ``CLIPModel.from_pretrained``.
        clip_config (dict, optional): Arguments of ``CLIPConfig`` to build a
            randomly initialised CLIP (tests, demos).
        frozen (bool): Freeze the original weights. False fine-tunes the
            whole encoders (ablation).
        gradient_checkpointing (bool): Recompute each encoder layer's
            activations in the backward pass instead of keeping them
            (:meth:`checkpointing`). Less memory, one more forward of the
            encoder layers per step. Defaults to False.
        init_cfg (dict, optional): Unused for CLIP; kept for mmengine.
    """

    out_indices: tuple
    patch_size: int

    def __init__(self,
                 pretrained: Optional[str] = None,
                 clip_config: Optional[dict] = None,
                 frozen: bool = True,
                 gradient_checkpointing: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.clip = build_clip(pretrained, clip_config)
        self.text_channels = self.clip.config.text_config.hidden_size
        self.frozen = frozen
        self.gradient_checkpointing = gradient_checkpointing

    # ---- what a subclass provides ------------------------------------

    def vision_encoders(self) -> List[nn.Module]:
        """Modules holding the vision encoder that are not inside
        ``self.clip``."""
        raise NotImplementedError

    def unused_modules(self) -> List[nn.Module]:
        """Modules the vision side never reaches."""
        raise NotImplementedError

    def _vision_maps(self, img: Tensor) -> List[Tensor]:
        """(B, C, H/p, W/p) maps of the layers in ``out_indices``."""
        raise NotImplementedError

    # ---- shared --------------------------------------------------------

    def encoders(self) -> List[nn.Module]:
        """CLIP (at least its text tower), then the vision encoder."""
        return [self.clip, *self.vision_encoders()]

    def inject_adapters(self, peft_cfg: Optional[dict]) -> None:
        """Freeze the encoders (unless ``frozen=False``), inject the
        adapters of ``peft_cfg`` into each, except into the modules no
        output uses (:meth:`never_used`), then freeze those modules."""
        never_used = {id(m) for m in self.never_used()}
        for encoder in self.encoders():
            encoder.requires_grad_(not self.frozen)
            if peft_cfg is not None:
                config = peft.get_peft_config(dict(peft_cfg))
                exclude_modules(config, [
                    name for name, module in encoder.named_modules()
                    if id(module) in never_used
                ])
                peft.inject_adapter_in_model(config, encoder)
                if not self.frozen:  # full fine-tuning trains the base too
                    encoder.requires_grad_(True)
        adapted = [
            f'{name}.{inner}' for name, module in self.named_modules()
            if id(module) in never_used
            for inner, layer in module.named_modules()
            if isinstance(layer, BaseTunerLayer)
        ]
        if adapted:
            raise ValueError(
                f'peft_cfg {peft_cfg["peft_type"]} has no `exclude_modules` '
                f'and put adapters into modules no output uses '
                f'({adapted[0]}, ...), where they would stay random. Use '
                'a peft type that has it (LORA, IA3, ADALORA, LOHA, LOKR, '
                'OFT, BOFT, ...) or target other modules.')
        self.freeze_unused()
        total = sum(p.numel() for p in self.parameters())
        trainable = sum(p.numel() for p in self.parameters()
                        if p.requires_grad)
        print_log(
            f'{type(self).__name__}: {trainable:,} trainable of {total:,} '
            'parameters', logger='current')

    def never_used(self) -> List[nn.Module]:
        """CLIP's contrastive head and :meth:`unused_modules`: no output
        depends on them."""
        return [self.clip.text_projection, *self.unused_modules()]

    def freeze_unused(self) -> None:
        """Parameters HARIS never reaches (:meth:`never_used`) get no
        gradient."""
        for module in self.never_used():
            module.requires_grad_(False)
        self.clip.logit_scale.requires_grad_(False)

    def init_weights(self) -> None:
        """Leave the encoders' weights untouched (loaded at build time, or
        set by CLIPConfig) and the adapters as peft initialised them."""

    def train(self, mode: bool = True) -> 'AdaptedCLIPBackboneBase':
        """Keep frozen encoders in eval mode; adapters follow ``mode``."""
        super().train(mode)
        if self.frozen:
            for encoder in self.encoders():
                encoder.eval()
                for module in encoder.modules():
                    if isinstance(module, BaseTunerLayer):
                        module.train(mode)
        return self

    def checkpointing(self, layers: List[nn.Module]):
        """A context in which ``layers`` are checkpointed (their
        activations recomputed in backward) if ``gradient_checkpointing``
        is on, the backbone is training and gradients are enabled.

        Every tower goes through here, CLIP's text and vision towers and an
        mmpretrain encoder alike. HF's ``gradient_checkpointing_enable``
        is not used: its encoder checkpoints only when the encoder module
        itself is in training mode, and frozen encoders stay in eval mode,
        so it would be silently off in the default configuration.
        """
        return checkpointed_layers(
            layers, self.gradient_checkpointing and self.training
            and torch.is_grad_enabled())

    def forward_vision(self, img: Tensor) -> List[Tensor]:
        """Patch-token maps (B, C, H/p, W/p) after the layers in
        ``out_indices``."""
        h, w = img.shape[-2:]
        if h % self.patch_size or w % self.patch_size:
            raise ValueError(f'Input size {h}x{w} must be a multiple of the '
                             f'patch size {self.patch_size}.')
        return self._vision_maps(img)

    def forward_text(self, token_ids: Tensor,
                     token_mask: Tensor) -> Dict[str, Tensor]:
        """Word features (B, L, C), sentence feature (B, C), padding mask
        (B, L) with True at padding."""
        text_model = self.clip.text_model
        with self.checkpointing(text_model.encoder.layers):
            out = text_model(
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
        ``words``, ``sentence``, ``word_padding_mask`` and
        ``image_index``.

        Args:
            img (Tensor): (B, 3, H, W) images, one per sentence; or, with
                ``image_index``, the (G, 3, H, W) distinct images.
            token_ids (Tensor): (B, L) token ids.
            token_mask (Tensor): (B, L), True at real tokens.
            image_index (Tensor, optional): (B,) index into ``img`` of each
                sentence's image. The vision encoder then runs once per
                distinct image and ``visual`` holds the G images' maps
                (``visual[i][image_index]`` are the sentences' maps), so
                that what follows can also work once per image.
                Defaults to None (one image per sentence).
        """
        feats = self.forward_text(token_ids, token_mask)
        feats['visual'] = self.forward_vision(img)
        feats['image_index'] = image_index
        return feats

    def set_adapters_enabled(self, enabled: bool) -> None:
        """Switch the injected adapters on or off (off = original
        encoders)."""
        for module in self.tuner_layers():
            module.enable_adapters(enabled)

    def tuner_layers(self) -> list:
        """The layers that ``peft`` injected adapters into."""
        return [m for m in self.modules() if isinstance(m, BaseTunerLayer)]

    @property
    def adapters_merged(self) -> bool:
        """Whether the adapters are folded into the encoder weights."""
        return any(m.merged for m in self.tuner_layers())

    @torch.no_grad()
    def merge_adapters(self) -> None:
        """Fold the adapters into the encoder weights (faster inference).

        Exact up to float rounding for LoRA, AdaLoRA and IA3 in eval mode
        (dropout off). A merged backbone must not be trained or saved: its
        base weights then hold the adapters' contribution. Loading a state
        dict unmerges first, so the loaded weights are used as they are.
        """
        for module in self.tuner_layers():
            module.merge()

    @torch.no_grad()
    def unmerge_adapters(self) -> None:
        """Subtract merged adapters from the encoder weights again (exact
        up to float rounding)."""
        for module in self.tuner_layers():
            if module.merged:
                module.unmerge()

    def drop_unused_adapters(self, state_dict: dict, prefix: str) -> None:
        """Read a state dict written when the modules no output uses
        still got adapters (frozen, random, without effect), in place:
        their layers' ``base_layer`` weights become the plain layers'
        weights and their adapters are dropped."""
        never_used = {id(m) for m in self.never_used()}
        unused = tuple(f'{prefix}{name}.'
                       for name, module in self.named_modules()
                       if id(module) in never_used)
        own = self.state_dict(prefix=prefix, keep_vars=True)
        old = [k for k in state_dict if k.startswith(unused) and
               k not in own and '.base_layer.' in k]
        layers = tuple(k.split('.base_layer.')[0] + '.' for k in old)
        for key in old:
            plain = key.replace('.base_layer.', '.', 1)
            if plain in own and plain not in state_dict:
                state_dict[plain] = state_dict.pop(key)
        adapters = [k for k in state_dict if k.startswith(layers) and
                    k not in own and '.base_layer.' not in k]
        for key in adapters:
            del state_dict[key]
        if adapters:
            print_log(
                f'Dropped {len(adapters)} adapter tensors of modules no '
                'output uses (written when those still got adapters; they '
                'never changed an output).', logger='current')

    def _load_from_state_dict(self, state_dict, prefix, *args,
                              **kwargs) -> None:
        # Weights loaded into merged layers would keep the ``merged`` flag
        # and ignore the newly loaded adapters.
        self.unmerge_adapters()
        self.drop_unused_adapters(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
