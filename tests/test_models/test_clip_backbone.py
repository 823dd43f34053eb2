import pytest
import torch
from transformers import CLIPConfig, CLIPModel

from mmseg.registry import MODELS
from tests.tiny_models import TINY_CLIP


def build(**kwargs):
    cfg = dict(type='HFCLIPBackbone', out_indices=(1, 2, 2))
    cfg.update(kwargs)
    if 'pretrained' not in kwargs:
        cfg['clip_config'] = TINY_CLIP
    return MODELS.build(cfg)


def text(b=2, l=7):
    ids = torch.randint(1, 1000, (b, l))
    mask = torch.ones(b, l, dtype=torch.bool)
    mask[-1, 4:] = False
    ids[-1, 3] = 49407  # EOT of the shorter sentence
    ids[0, -1] = 49407
    return ids, mask


def test_outputs_and_interpolated_positions():
    backbone = build()
    ids, mask = text()
    out = backbone(torch.randn(2, 3, 48, 64), ids, mask)  # not 32x32
    assert [v.shape for v in out['visual']] == [(2, 32, 6, 8)] * 3
    assert out['words'].shape == (2, 7, 32)
    assert out['sentence'].shape == (2, 32)
    assert out['word_padding_mask'][1, 4:].all()
    with pytest.raises(ValueError, match='multiple of the patch size'):
        backbone(torch.randn(1, 3, 30, 32), *text(1))


def test_frozen_clip_adapters_train():
    backbone = build()
    backbone.train()
    assert not backbone.clip.training  # frozen CLIP stays in eval mode
    trainable = {n for n, p in backbone.named_parameters() if p.requires_grad}
    assert trainable and all('lora_' in n for n in trainable)
    before = {n: p.clone() for n, p in backbone.named_parameters()}
    opt = torch.optim.AdamW(
        [p for p in backbone.parameters() if p.requires_grad], lr=1e-2)
    ids, mask = text()
    out = backbone(torch.randn(2, 3, 32, 32), ids, mask)
    loss = sum(v.square().mean() for v in out['visual']) + \
        out['sentence'].square().mean()
    loss.backward()
    opt.step()
    for n, p in backbone.named_parameters():
        if n in trainable:
            continue
        assert torch.equal(p, before[n]), n
    changed = [n for n in trainable if not torch.equal(
        before[n], dict(backbone.named_parameters())[n])]
    assert changed


def test_no_adapters_and_full_finetune():
    frozen = build(peft_cfg=None)
    assert not any(p.requires_grad for p in frozen.parameters())
    full = build(peft_cfg=None, frozen=False)
    frozen_names = {n for n, p in full.named_parameters()
                    if not p.requires_grad}
    # only what HARIS never uses stays frozen
    assert frozen_names == {
        'clip.logit_scale', 'clip.visual_projection.weight',
        'clip.text_projection.weight',
        'clip.vision_model.post_layernorm.weight',
        'clip.vision_model.post_layernorm.bias'}


def test_other_peft_methods():
    ia3 = build(peft_cfg=dict(peft_type='IA3',
                              target_modules=['k_proj', 'v_proj', 'fc2'],
                              feedforward_modules=['fc2']))
    names = [n for n, p in ia3.named_parameters() if p.requires_grad]
    assert names and all('ia3_' in n for n in names)


def test_pretrained_dir_loads_and_init_weights_keeps_it(tmp_path):
    reference = CLIPModel(CLIPConfig(**TINY_CLIP))
    reference.save_pretrained(tmp_path / 'clip')
    backbone = build(pretrained=str(tmp_path / 'clip'))
    backbone.init_weights()
    ref_state = reference.state_dict()
    for name, value in backbone.clip.state_dict().items():
        if name in ref_state:  # base weights; LoRA layers rename some
            assert torch.equal(value, ref_state[name]), name
    q = backbone.clip.vision_model.encoder.layers[0].self_attn.q_proj
    assert torch.equal(q.base_layer.weight, ref_state[
        'vision_model.encoder.layers.0.self_attn.q_proj.weight'])


def test_missing_local_dir_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match='save_pretrained'):
        build(pretrained=str(tmp_path / 'nothing'))


VIT = dict(
    type='mmpretrain.VisionTransformer',
    arch=dict(embed_dims=48, num_layers=3, num_heads=4,
              feedforward_channels=96),
    img_size=32, patch_size=8, out_indices=(0, 1, 2))


def test_mmpretrain_vision_encoder_with_clip_text():
    backbone = MODELS.build(dict(
        type='MMPretrainCLIPTextBackbone', clip_config=TINY_CLIP,
        vision_encoder=VIT,
        peft_cfg=dict(peft_type='LORA', r=4,
                      target_modules=['q_proj', 'v_proj', 'qkv'])))
    assert backbone.out_indices == (0, 1, 2)  # from the mmpretrain config
    assert not hasattr(backbone.clip, 'vision_model')
    ids, mask = text()
    out = backbone(torch.randn(2, 3, 48, 64), ids, mask)
    assert [v.shape for v in out['visual']] == [(2, 48, 6, 8)] * 3
    assert out['words'].shape == (2, 7, 32)
    trainable = [n for n, p in backbone.named_parameters() if p.requires_grad]
    assert any(n.startswith('vision.') and 'lora_' in n for n in trainable)
    assert all('lora_' in n for n in trainable)
    backbone.train()
    assert not backbone.vision.training
    assert not backbone.clip.training
    with pytest.raises(ValueError, match='multiple of the patch size'):
        backbone(torch.randn(1, 3, 30, 32), *text(1))


def test_vision_encoder_in_hfclipbackbone_names_the_new_type():
    with pytest.raises(ValueError, match="type='MMPretrainCLIPTextBackbone'"):
        build(vision_encoder=VIT)


def test_adalora():
    backbone = build(peft_cfg=dict(peft_type='ADALORA', init_r=6,
                                   target_r=2, total_step=100,
                                   target_modules=['q_proj', 'v_proj']))
    names = [n for n, p in backbone.named_parameters() if p.requires_grad]
    assert names and all('lora_' in n for n in names)
    backbone(torch.randn(1, 3, 32, 32), *text(1))
