"""``gradient_checkpointing=True`` in the backbones: the same loss and
gradients as without it, the towers' layers really recomputed in the
backward pass, and nothing checkpointed in eval mode or without grad."""
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData

import projects.haris.models.backbones.gradient_checkpointing as gc_module
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from tests.tiny_models import TINY_CLIP, tiny_model_cfg

# dropout on, so the recomputation must replay the forward's masks
LORA = dict(peft_type='LORA', r=4, lora_dropout=0.5,
            target_modules=['q_proj', 'v_proj', 'qkv'])
VIT = dict(
    type='mmpretrain.VisionTransformer',
    arch=dict(embed_dims=48, num_layers=3, num_heads=4,
              feedforward_channels=96),
    img_size=32, patch_size=8, out_indices=(0, 2))


def build(kind, **kwargs):
    """A tiny backbone of class ``kind`` with checkpointing on and LoRA B
    random (at its zero init LoRA A would get zero gradients)."""
    cfg = dict(type=kind, clip_config=TINY_CLIP, gradient_checkpointing=True)
    if kind == 'MMPretrainCLIPTextBackbone':
        cfg['vision_encoder'] = VIT
    else:
        cfg['out_indices'] = (1, 2)
    backbone = MODELS.build(dict(cfg, **kwargs))
    with torch.no_grad():
        for name, p in backbone.named_parameters():
            if 'lora_B' in name:
                p.normal_(0, 0.5)
    return backbone


def attention_modules(backbone):
    """The attention module of the first vision layer and of the first
    text layer (each runs once per forward of its layer)."""
    if hasattr(backbone, 'vision'):
        vision = backbone.vision.layers[0].attn
    else:
        vision = backbone.clip.vision_model.encoder.layers[0].self_attn
    return dict(vision=vision,
                text=backbone.clip.text_model.encoder.layers[0].self_attn)


class CallCounter:
    """Counts the calls of some modules, through forward pre-hooks (a
    recomputation may stop early, after a module's last saved tensor,
    before its forward hooks)."""

    def __init__(self, modules):
        self.counts = dict.fromkeys(modules, 0)
        self.handles = [
            module.register_forward_pre_hook(self.hook(key))
            for key, module in modules.items()
        ]

    def hook(self, key):

        def count(module, args):
            self.counts[key] += 1

        return count

    def remove(self):
        for handle in self.handles:
            handle.remove()


def text():
    ids = torch.tensor([[49406, 736, 7117, 49407, 0],
                        [49406, 1746, 2866, 7117, 49407]])
    return ids, ids != 0


def backbone_step(backbone, seed=0):
    """Loss over every output, backward; returns the loss, the trainable
    parameters' gradients, and how often the first vision and text layers
    ran in the forward and in forward + backward."""
    backbone.zero_grad()
    counter = CallCounter(attention_modules(backbone))
    torch.manual_seed(seed)
    img = torch.randn(2, 3, 32, 32)
    out = backbone(img, *text())
    loss = sum(v.square().mean() for v in out['visual']) + \
        out['words'].square().mean() + out['sentence'].square().mean()
    forward_calls = dict(counter.counts)
    loss.backward()
    counter.remove()
    grads = {n: p.grad.clone() for n, p in backbone.named_parameters()
             if p.requires_grad}
    return loss.detach(), grads, forward_calls, dict(counter.counts)


@pytest.mark.parametrize('kind,kwargs', [
    ('HFCLIPBackbone', dict(peft_cfg=LORA)),
    ('HFCLIPBackbone', dict(peft_cfg=None, frozen=False)),
    ('MMPretrainCLIPTextBackbone', dict(peft_cfg=LORA)),
])
def test_same_loss_and_gradients_with_recomputed_layers(kind, kwargs):
    backbone = build(kind, **kwargs).train()
    loss, grads, fwd, total = backbone_step(backbone)
    # each tower's layers ran once in the forward and again in backward
    assert fwd == dict(vision=1, text=1)
    assert total == dict(vision=2, text=2)
    backbone.gradient_checkpointing = False
    ref_loss, ref_grads, _, ref_total = backbone_step(backbone)
    assert ref_total == dict(vision=1, text=1)
    torch.testing.assert_close(loss, ref_loss)
    assert grads.keys() == ref_grads.keys()
    lora = [n for n in ref_grads if 'lora_A' in n]
    assert not kwargs['peft_cfg'] or len(lora) >= 4
    for name, ref in ref_grads.items():
        torch.testing.assert_close(grads[name], ref, msg=name)
    # a real comparison: both towers' parameters got non-zero gradients
    for tower in ('vision', 'text_model'):
        assert any(ref.abs().sum() > 0 for n, ref in ref_grads.items()
                   if tower in n), tower


def segmentor_data(model):
    samples, inputs = [], []
    for ids in ([49406, 736, 7117, 49407, 0], [49406, 1746, 7117, 49407, 0]):
        inputs.append(torch.randint(0, 255, (3, 64, 64)).float())
        sample = SegDataSample(metainfo=dict(
            ori_shape=(64, 64), img_shape=(64, 64), text='a',
            token_ids=np.array(ids), token_mask=np.array(ids) != 0))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 2, (1, 64, 64)))
        samples.append(sample)
    return model.data_preprocessor(
        dict(inputs=inputs, data_samples=samples), True)


def test_config_switch_in_a_training_step_of_the_segmentor():
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg(gradient_checkpointing=True,
                                        peft_cfg=LORA))
    model.train()
    data = segmentor_data(model)
    results = []
    for enabled in (True, False):
        model.backbone.gradient_checkpointing = enabled
        model.zero_grad()
        counter = CallCounter(attention_modules(model.backbone))
        torch.manual_seed(1)
        losses = model(**data, mode='loss')
        loss = sum(losses.values())
        loss.backward()
        counter.remove()
        grads = {n: p.grad.clone() for n, p in model.named_parameters()
                 if p.requires_grad and p.grad is not None}
        results.append((loss.detach(), grads, counter.counts))
    (loss, grads, counts), (ref_loss, ref_grads, ref_counts) = results
    assert counts == dict(vision=2, text=2)
    assert ref_counts == dict(vision=1, text=1)
    torch.testing.assert_close(loss, ref_loss)
    assert grads.keys() == ref_grads.keys()
    for name, ref in ref_grads.items():
        torch.testing.assert_close(grads[name], ref, msg=name)


@pytest.fixture
def checkpoint_calls(monkeypatch):
    """Counts the calls of torch.utils.checkpoint by the backbones."""
    calls = []

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    real = gc_module.checkpoint
    monkeypatch.setattr(gc_module, 'checkpoint', spy)
    return calls


@pytest.mark.parametrize('kind', ['HFCLIPBackbone',
                                  'MMPretrainCLIPTextBackbone'])
def test_off_in_eval_and_without_grad(kind, checkpoint_calls):
    backbone = build(kind, peft_cfg=LORA)
    backbone.eval()
    _, _, _, total = backbone_step(backbone)
    assert total == dict(vision=1, text=1)  # not recomputed in backward
    assert not checkpoint_calls
    backbone.train()
    with torch.no_grad():
        backbone(torch.randn(2, 3, 32, 32), *text())
    assert not checkpoint_calls
    backbone(torch.randn(2, 3, 32, 32), *text())  # training, with grad
    assert checkpoint_calls
    # the layers' own forward is back after each call
    for layer in backbone.modules():
        assert 'forward' not in vars(layer)


def test_off_by_default():
    backbone = MODELS.build(dict(type='HFCLIPBackbone',
                                 clip_config=TINY_CLIP,
                                 out_indices=(1, 2))).train()
    _, _, _, total = backbone_step(backbone)
    assert total == dict(vision=1, text=1)
