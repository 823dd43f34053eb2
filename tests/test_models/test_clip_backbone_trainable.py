"""What trains in the CLIP backbones: checkpoints keep their names, layers
past the deepest returned one are frozen, and every trainable parameter
gets a gradient from one step (DDP's condition), for CLIP's vision tower
and for an mmpretrain vision encoder."""
import os.path as osp

import peft
import pytest
import torch
import torch.nn as nn
from peft.tuners.tuners_utils import BaseTunerLayer
from transformers import CLIPConfig, CLIPModel

from mmseg.registry import MODELS
from projects.haris.models.backbones.mmpretrain_clip_text_backbone import \
    build_mmpretrain_backbone
from projects.haris.utils.frozen_weights import (fingerprint,
                                                 frozen_pretrained_keys)
from tests.tiny_models import TINY_CLIP

KEYS = osp.join(osp.dirname(osp.abspath(__file__)),
                'clip_backbone_state_dict_keys.txt')
LORA = dict(peft_type='LORA', r=4, target_modules=['q_proj', 'v_proj', 'qkv'])


def vit(out_indices=(0, 1)):
    """A tiny mmpretrain ViT: 3 layers, width 48, patch 8."""
    return dict(
        type='mmpretrain.VisionTransformer',
        arch=dict(embed_dims=48, num_layers=3, num_heads=4,
                  feedforward_channels=96),
        img_size=32, patch_size=8, out_indices=out_indices)


def build_clip_vision(out_indices=(1, 1), **kwargs):
    return MODELS.build(dict(dict(type='HFCLIPBackbone', clip_config=TINY_CLIP,
                                  out_indices=out_indices), **kwargs))


def build_mmpretrain_vision(out_indices=(0, 1), **kwargs):
    return MODELS.build(dict(dict(type='MMPretrainCLIPTextBackbone',
                                  clip_config=TINY_CLIP,
                                  vision_encoder=vit(out_indices)), **kwargs))


BUILD = dict(HFCLIPBackbone=build_clip_vision,
             MMPretrainCLIPTextBackbone=build_mmpretrain_vision)


def read_keys():
    """{class name: ['name (shape)', ...]} from the pinned list."""
    keys, current = {}, None
    with open(KEYS) as f:
        for line in f:
            line = line.rstrip('\n')
            if not line or line.startswith('#'):
                continue
            if line.startswith('['):
                current = keys.setdefault(line.strip('[]'), [])
            else:
                current.append(line)
    return keys


def text():
    ids = torch.tensor([[49406, 736, 7117, 49407, 0],
                        [49406, 1746, 2866, 7117, 49407]])
    return ids, ids != 0


def one_step(backbone):
    """One training forward/backward through every output."""
    backbone.train()
    out = backbone(torch.randn(2, 3, 32, 32), *text())
    loss = sum(v.square().mean() for v in out['visual']) + \
        out['words'].square().mean() + out['sentence'].square().mean()
    loss.backward()


@pytest.mark.parametrize('name,count', [('HFCLIPBackbone', 90),
                                        ('MMPretrainCLIPTextBackbone', 92)])
def test_state_dict_keys_unchanged(name, count):
    backbone = BUILD[name](peft_cfg=LORA)
    found = [f'{k} {tuple(v.shape)}'
             for k, v in backbone.state_dict().items()]
    expected = read_keys()[name]
    assert len(expected) == count
    assert found == expected


def old_layout(name):
    """The backbone as built before layers no output uses were left
    without adapters: peft injected into every targeted layer (the
    unused ones frozen). Its adapters are random, B included."""
    backbone = BUILD[name](peft_cfg=None)
    for encoder in backbone.encoders():
        peft.inject_adapter_in_model(peft.get_peft_config(LORA), encoder)
    with torch.no_grad():
        for key, value in backbone.named_parameters():
            if 'lora_B' in key:
                value.normal_()
    return backbone.eval()


@pytest.mark.parametrize('name,unused', [
    ('HFCLIPBackbone', 'clip.vision_model.encoder.layers.1.'),
    ('MMPretrainCLIPTextBackbone', 'vision.layers.2.'),
])
def test_no_adapters_where_no_output_depends(name, unused):
    """Adapters there would be frozen and random: a checkpoint that
    leaves out frozen weights could then only be loaded with the seed it
    was written with."""
    backbone = BUILD[name](peft_cfg=LORA)
    layers = [n for n, m in backbone.named_modules()
              if isinstance(m, BaseTunerLayer)]
    assert layers and not [n for n in layers if n.startswith(unused)]
    assert any(n.startswith(unused) for n in backbone.state_dict())
    torch.manual_seed(0)
    state = old_layout(name).state_dict()
    assert [k for k in state if k.startswith(unused) and 'lora_A' in k]


@pytest.mark.parametrize('name', sorted(BUILD))
def test_state_dicts_with_adapters_in_unused_layers_still_load(name):
    """Such a state dict loads strictly (those adapters never changed an
    output) and gives the same outputs."""
    torch.manual_seed(0)
    old = old_layout(name)
    torch.manual_seed(1)
    new = BUILD[name](peft_cfg=LORA).eval()
    new.load_state_dict(old.state_dict())
    img = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        a, b = old(img, *text()), new(img, *text())
    for x, y in zip(a['visual'] + [a['words'], a['sentence']],
                    b['visual'] + [b['words'], b['sentence']]):
        assert torch.equal(x, y)


def test_clip_layers_past_the_deepest_output_are_frozen():
    # out_indices (1, 1): the second vision layer (index 1) is never used
    for backbone in (build_clip_vision(peft_cfg=LORA),
                     build_clip_vision(peft_cfg=None, frozen=False)):
        params = dict(backbone.named_parameters())
        unused = [n for n in params
                  if n.startswith('clip.vision_model.encoder.layers.1.')]
        assert len(unused) >= 12  # its q/k/v/out, fc1/fc2, two norms
        assert not any(params[n].requires_grad for n in unused)
    lora = dict(build_clip_vision(peft_cfg=LORA).named_parameters())
    assert lora['clip.vision_model.encoder.layers.0.self_attn.q_proj'
                '.lora_A.default.weight'].requires_grad


def test_mmpretrain_layers_past_the_deepest_output_are_frozen():
    # out_indices (0, 1) of 3 layers: layer 2 and the final norm (applied
    # after layer 2 only) are never used
    lora = build_mmpretrain_vision(peft_cfg=LORA)
    trainable = {n for n, p in lora.named_parameters() if p.requires_grad}
    vision = {n for n in trainable if n.startswith('vision.')}
    assert vision == {
        f'vision.layers.{i}.attn.qkv.lora_{ab}.default.weight'
        for i in (0, 1) for ab in 'AB'
    }
    full = build_mmpretrain_vision(peft_cfg=None, frozen=False)
    frozen = {n for n, p in full.named_parameters() if not p.requires_grad}
    layer2 = {n for n, _ in full.named_parameters()
              if n.startswith('vision.layers.2.')}
    assert len(layer2) == 12
    assert frozen == {'clip.logit_scale', 'clip.text_projection.weight',
                      'vision.ln1.weight', 'vision.ln1.bias'} | layer2
    # the final norm trains when the last layer is returned
    last = build_mmpretrain_vision((1, 2), peft_cfg=None, frozen=False)
    assert last.vision.ln1.weight.requires_grad
    assert all(p.requires_grad for p in last.vision.layers.parameters())


@pytest.mark.parametrize('name,out_indices', [
    ('HFCLIPBackbone', (1, 1)), ('HFCLIPBackbone', (0, 1, 2)),
    ('MMPretrainCLIPTextBackbone', (0, 1)),
    ('MMPretrainCLIPTextBackbone', (1, 2))
])
@pytest.mark.parametrize('tuning', ['lora', 'full'])
def test_every_trainable_parameter_gets_a_gradient(name, out_indices,
                                                   tuning):
    kwargs = dict(peft_cfg=LORA) if tuning == 'lora' else dict(
        peft_cfg=None, frozen=False)
    backbone = BUILD[name](out_indices, **kwargs)
    one_step(backbone)
    trainable = [(n, p) for n, p in backbone.named_parameters()
                 if p.requires_grad]
    assert trainable
    assert [n for n, p in trainable if p.grad is None] == []
    # frozen parameters get none (the optimizer never sees them)
    assert all(p.grad is None for p in backbone.parameters()
               if not p.requires_grad)


@pytest.mark.parametrize('name', sorted(BUILD))
def test_frozen_fingerprint_does_not_depend_on_the_seed(name, tmp_path):
    """What a checkpoint of trained weights leaves out (the frozen
    pretrained weights) and its fingerprint are the same whatever the
    seed, with a vision layer no output uses."""
    torch.manual_seed(0)
    CLIPModel(CLIPConfig(**TINY_CLIP)).save_pretrained(tmp_path / 'clip')
    vision = build_mmpretrain_backbone(vit())
    torch.save(dict(state_dict=vision.state_dict()), tmp_path / 'vit.pth')
    kwargs = dict(peft_cfg=LORA, pretrained=str(tmp_path / 'clip'),
                  clip_config=None)
    if name == 'MMPretrainCLIPTextBackbone':
        kwargs['vision_encoder'] = dict(vit(), init_cfg=dict(
            type='Pretrained', checkpoint=str(tmp_path / 'vit.pth')))
    prints = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        model = nn.ModuleDict(dict(backbone=BUILD[name](**kwargs)))
        keys = frozen_pretrained_keys(model, dict(type=name, **kwargs))
        prints.append((keys, fingerprint(model.state_dict(), keys)))
    assert prints[0][0] and prints[0] == prints[1]
