"""Inference shortcuts of HFCLIPBackbone: the vision tower stops at the
deepest returned layer, adapters merge exactly, maps are shared between
the sentences of one image."""
import pytest
import torch

from mmseg.registry import MODELS
from tests.tiny_models import TINY_CLIP

PEFT = dict(
    lora=dict(peft_type='LORA', r=4, lora_alpha=8, lora_dropout=0.1,
              target_modules=['q_proj', 'k_proj', 'v_proj', 'out_proj']),
    ia3=dict(peft_type='IA3', target_modules=['k_proj', 'v_proj', 'fc2'],
             feedforward_modules=['fc2']),
    adalora=dict(peft_type='ADALORA', init_r=6, target_r=2, total_step=100,
                 target_modules=['q_proj', 'v_proj']))


def build(**kwargs):
    cfg = dict(type='HFCLIPBackbone', clip_config=TINY_CLIP,
               out_indices=(1, 2, 2))
    cfg.update(kwargs)
    return MODELS.build(cfg).eval()


def text(b=2):
    ids = torch.tensor([[49406, 736, 7117, 49407, 0],
                        [49406, 1746, 2866, 7117, 49407]])[:b]
    mask = ids != 0
    mask[:, 0] = True
    return ids, mask


def reference_maps(backbone, img, indices):
    """The maps read off CLIP's own full forward (all layers)."""
    out = backbone.clip.vision_model(
        pixel_values=img, output_hidden_states=True,
        interpolate_pos_encoding=True)
    b, _, h, w = img.shape
    return [out.hidden_states[i][:, 1:].transpose(1, 2).reshape(
        b, -1, h // 8, w // 8) for i in indices]


def test_vision_tower_stops_at_the_deepest_returned_layer():
    backbone = build(out_indices=(0, 1), peft_cfg=PEFT['lora'])
    layers = backbone.clip.vision_model.encoder.layers
    ran = []
    for i, layer in enumerate(layers):
        layer.register_forward_hook(lambda *_, i=i: ran.append(i))
    img = torch.randn(2, 3, 48, 64)  # not 32x32: interpolated positions
    with torch.no_grad():
        maps = backbone.forward_vision(img)
        assert ran == [0]  # layer 2 (index 1) skipped
        ran.clear()
        want = reference_maps(backbone, img, (0, 1))
        assert ran == [0, 1]
    assert [m.shape for m in maps] == [(2, 32, 6, 8)] * 2
    for got, ref in zip(maps, want):
        torch.testing.assert_close(got, ref, atol=1e-6, rtol=1e-6)
    # the skipped layer keeps its weights: checkpoints still load strictly
    keys = set(backbone.state_dict())
    assert 'clip.vision_model.encoder.layers.1.mlp.fc1.weight' in keys
    assert 'clip.vision_model.post_layernorm.weight' in keys
    build(out_indices=(0, 1), peft_cfg=PEFT['lora']).load_state_dict(
        backbone.state_dict(), strict=True)


def test_all_layers_match_clip_forward():
    backbone = build(out_indices=(0, 1, 2))
    img = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        for got, ref in zip(backbone.forward_vision(img),
                            reference_maps(backbone, img, (0, 1, 2))):
            torch.testing.assert_close(got, ref, atol=1e-6, rtol=1e-6)


def test_image_index_shares_the_maps():
    backbone = build()
    img = torch.randn(2, 3, 32, 32)
    ids, mask = text(2)
    ids, mask = ids[[0, 1, 1]], mask[[0, 1, 1]]  # three sentences
    with torch.no_grad():
        shared = backbone(img, ids, mask, image_index=torch.tensor([1, 0, 1]))
        plain = backbone(img[[1, 0, 1]], ids, mask)
    # the two images' maps, once each, and the index to share them
    assert torch.equal(shared['image_index'], torch.tensor([1, 0, 1]))
    for a, b in zip(shared['visual'], plain['visual']):
        assert a.shape == (2, 32, 4, 4)
        torch.testing.assert_close(a[[1, 0, 1]], b, atol=1e-6, rtol=1e-6)
    assert torch.equal(shared['words'], plain['words'])
    assert plain['image_index'] is None


@pytest.mark.parametrize('kind', sorted(PEFT))
def test_merged_adapters_give_the_same_features(kind):
    backbone = build(peft_cfg=PEFT[kind])
    with torch.no_grad():  # as if trained (LoRA B, IA3 and AdaLoRA E
        for p in backbone.parameters():  # start at neutral values)
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.3)
    img = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        before = backbone(img, *text())
        backbone.set_adapters_enabled(False)
        original = backbone(img, *text())
        backbone.set_adapters_enabled(True)
        backbone.merge_adapters()
        assert backbone.adapters_merged
        merged = backbone(img, *text())
    # the adapters matter, and merging keeps what they do
    assert (before['sentence'] - original['sentence']).abs().max() > 1e-2
    for a, b in zip(before['visual'] + [before['words']],
                    merged['visual'] + [merged['words']]):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-4)
    backbone.unmerge_adapters()
    assert not backbone.adapters_merged
