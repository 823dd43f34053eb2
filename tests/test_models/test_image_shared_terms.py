"""The HLA neck computes what depends on the image only once per image
and reads it per sentence: same outputs, logits and gradients as one map
per sentence."""
import pytest
import torch
from mmengine.structures import PixelData

from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from projects.haris.models.necks import HLANeck
from projects.haris.models.utils import attention_parts
from tests.tiny_models import tiny_model_cfg

INDEX = torch.tensor([1, 0, 1, 1, 2, 0])  # 6 sentences on 3 images
READINGS = [
    dict(),
    dict(positions=True, feedback_to='query_key_value', feedback_gate=True),
    dict(feedback=False),
    dict(vwa=False),
]


def neck_inputs(images=3, sentences=6, length=5):
    gen = torch.Generator().manual_seed(0)
    visual = [torch.randn(images, 24, 4, 4, generator=gen),
              torch.randn(images, 24, 4, 4, generator=gen),
              torch.randn(images, 24, 2, 2, generator=gen)]
    words = torch.randn(sentences, length, 16, generator=gen)
    sentence = torch.randn(sentences, 16, generator=gen)
    pad = torch.zeros(sentences, length, dtype=torch.bool)
    pad[0, 3:] = pad[4, 2:] = True
    return visual, words, sentence, pad


def build_neck(**reading):
    torch.manual_seed(0)
    neck = HLANeck(in_channels=[24] * 3, text_channels=16, dim=16,
                   num_heads=2, **reading)
    with torch.no_grad():  # the gate's Linear starts at zero
        for p in neck.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return neck.eval()


@pytest.mark.parametrize('reading', READINGS)
def test_neck_once_per_image_equals_one_map_per_sentence(reading):
    neck = build_neck(**reading)
    visual, words, sentence, pad = neck_inputs()
    with torch.no_grad():
        shared, shared_maps = neck(visual, words, sentence, pad, INDEX,
                                   return_attention=True)
        plain, plain_maps = neck([v[INDEX] for v in visual], words,
                                 sentence, pad, return_attention=True)
    for got, want in zip(shared[:3], plain[:3]):
        assert got.shape == want.shape == (6, 16) + got.shape[2:]
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(shared[3]['words'], plain[3]['words'],
                               atol=1e-5, rtol=1e-5)
    for got, want in zip(shared_maps, plain_maps):
        assert got.keys() == want.keys()
        for key in got:
            torch.testing.assert_close(got[key], want[key], atol=1e-5,
                                       rtol=1e-5)
    # the sentences of one image still get their own maps
    assert not torch.allclose(shared[0][0], shared[0][2])


def test_image_only_projections_run_once_per_image(monkeypatch):
    neck = build_neck()
    visual, words, sentence, pad = neck_inputs()
    proj_batches = []
    for proj in neck.vis_proj:
        proj.register_forward_hook(
            lambda mod, args, out: proj_batches.append(out.shape[0]))
    shared_parts = []
    project = attention_parts.project

    def recording(attn, x, part):
        shared_parts.append((attn, part, x.shape[0]))
        return project(attn, x, part)

    monkeypatch.setattr(attention_parts, 'project', recording)
    with torch.no_grad():
        neck(visual, words, sentence, pad, INDEX)
    assert proj_batches == [3, 3, 3]  # every level, once per image
    deepest = neck.blocks[2]
    # the deepest level's projections of image tokens, once per image
    assert shared_parts == [(deepest.lwa, 'query', 3),
                            (deepest.word_attn, 'key', 3),
                            (deepest.word_attn, 'value', 3),
                            (deepest.vision_attn, 'query', 3)]


def test_bad_image_index_is_named():
    neck = build_neck()
    visual, words, sentence, pad = neck_inputs()
    with pytest.raises(ValueError, match='image_index must hold one index'):
        neck(visual, words, sentence, pad, torch.tensor([0, 1, 3, 0, 0, 0]))
    with pytest.raises(ValueError, match='pass image_index'):
        neck(visual, words, sentence, pad)


def build_model(no_target=False):
    cfg = tiny_model_cfg(peft_cfg=dict(
        peft_type='LORA', r=4, lora_alpha=8, lora_dropout=0.0,
        target_modules=['q_proj', 'v_proj']))
    cfg['decode_head'].update(no_target=no_target, dropout_ratio=0.0)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    with torch.no_grad():  # as if trained: LoRA B is zero at init
        for name, p in model.named_parameters():
            if 'lora_B' in name:
                p.normal_(0, 0.2)
    return model


def model_inputs(model):
    gen = torch.Generator().manual_seed(2)
    images = torch.randn(3, 3, 64, 64, generator=gen)
    ids = torch.randint(300, 40000, (6, 7), generator=gen)
    mask = torch.ones(6, 7, dtype=torch.bool)
    mask[0, 4:] = mask[3, 5:] = False
    samples = []
    for i in range(6):
        s = SegDataSample(metainfo=dict(
            img_shape=(64, 64), pad_shape=(64, 64), ori_shape=(64, 64),
            no_target=i == 4))
        s.gt_sem_seg = PixelData(
            data=(torch.rand(1, 64, 64, generator=gen) > 0.7).long())
        samples.append(s)
    return images, ids, mask, samples


@pytest.mark.parametrize('no_target', [False, True])
def test_segmentor_logits_equal(no_target):
    model = build_model(no_target).eval()
    images, ids, mask, samples = model_inputs(model)
    metas = [s.metainfo for s in samples]
    outs = []
    with torch.no_grad():
        for x in (model.encode(images, ids, mask, INDEX),
                  model.encode(images[INDEX], ids, mask)):
            outs.append(model.decode_head.predict_with_no_target(
                x, metas, model.test_cfg))
    (shared, shared_nt), (plain, plain_nt) = outs
    torch.testing.assert_close(shared, plain, atol=1e-5, rtol=1e-5)
    assert (plain_nt is None) == (not no_target)
    if no_target:
        torch.testing.assert_close(shared_nt, plain_nt, atol=1e-6,
                                   rtol=1e-5)
    assert not torch.allclose(plain[0], plain[2])  # one image, two texts


@pytest.mark.parametrize('no_target', [False, True])
def test_training_gradients_equal(no_target):
    model = build_model(no_target).train()
    images, ids, mask, samples = model_inputs(model)
    grads, losses = [], []
    for args in ((images, ids, mask, INDEX), (images[INDEX], ids, mask)):
        model.zero_grad()
        loss = model.decode_head.loss(model.encode(*args), samples,
                                      model.train_cfg)
        total = sum(v for k, v in loss.items() if k.startswith('loss'))
        total.backward()
        losses.append(total.detach())
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()
                      if p.grad is not None})
    torch.testing.assert_close(losses[0], losses[1])
    assert grads[0].keys() == grads[1].keys()
    # adapters of both towers, the neck's projections and the head train
    assert any('lora' in n and 'vision' in n for n in grads[0])
    assert 'neck.vis_proj.0.0.weight' in grads[0]
    for name, want in grads[1].items():
        torch.testing.assert_close(grads[0][name], want, atol=1e-5,
                                   rtol=1e-4, msg=name)
    assert grads[1]['neck.vis_proj.2.0.weight'].abs().max() > 0


def test_text_levels_fuse_only_the_deepest():
    neck = build_neck(text_levels=1)
    assert not any(k.startswith(('blocks.0.', 'blocks.1.'))
                   for k in neck.state_dict())
    visual, words, sentence, pad = neck_inputs()
    with torch.no_grad():
        (*shared, _), maps = neck(visual, words, sentence, pad, INDEX,
                                  return_attention=True)
        plain = neck([v[INDEX] for v in visual], words, sentence, pad)
        # the shallow levels: each sentence's image map, projected
        for i in (0, 1):
            v = visual[i][INDEX].flatten(2).transpose(1, 2)
            want = neck.vis_proj[i](v).transpose(1, 2).reshape(6, 16, 4, 4)
            torch.testing.assert_close(shared[i], want)
        # the deepest level is fused as in the full neck
        full = build_neck()
        full.load_state_dict(neck.state_dict(), strict=False)
        deepest = full(visual, words, sentence, pad, INDEX)[2]
    torch.testing.assert_close(shared[2], deepest, atol=1e-5, rtol=1e-5)
    for got, want in zip(shared, plain[:3]):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert maps[0] is None and maps[1] is None and 'round2' in maps[2]
    with pytest.raises(ValueError, match='text_levels=4 must lie in'):
        build_neck(text_levels=4)
