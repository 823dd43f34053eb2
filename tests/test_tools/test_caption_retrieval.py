import torch

from mmseg.registry import MODELS
from tests.tiny_models import TINY_CLIP
from tools.clip_pretraining.caption_retrieval import CaptionRetrieval

MEAN, STD = [122.771, 116.746, 104.094], [68.501, 66.632, 70.323]


def retrieval():
    return CaptionRetrieval(96, 32, MEAN, STD, context_length=16)


def test_accuracy_is_top1_of_the_logits():
    task = retrieval()
    backbone = MODELS.build(dict(type='HFCLIPBackbone', clip_config=TINY_CLIP,
                                 out_indices=(1, 2), peft_cfg=None))
    logits = task.logits(backbone.clip)
    assert logits.shape == (96, 96)
    assert logits.abs().max() <= 1 + 1e-5  # cosine similarities
    expected = (logits.argmax(1) == torch.arange(96)).float().mean() * 100
    assert task.accuracy(backbone.clip) == round(expected.item(), 2)


def test_disabled_adapters_give_the_original_model_and_merge_keeps_them():
    task = retrieval()
    torch.manual_seed(1)
    original = MODELS.build(dict(type='HFCLIPBackbone', clip_config=TINY_CLIP,
                                 out_indices=(1, 2), peft_cfg=None))
    torch.manual_seed(1)  # the same CLIP weights, then adapters
    adapted = MODELS.build(dict(type='HFCLIPBackbone', clip_config=TINY_CLIP,
                                out_indices=(1, 2)))
    with torch.no_grad():  # as if trained: LoRA B is zero at init
        for name, p in adapted.named_parameters():
            if 'lora_B' in name:
                p.normal_(0, 0.5)
    before = task.logits(original.clip)
    with_adapters = task.logits(adapted.clip)
    assert (with_adapters - before).abs().max() > 1e-3
    adapted.set_adapters_enabled(False)
    assert torch.equal(task.logits(adapted.clip), before)
    adapted.set_adapters_enabled(True)
    adapted.merge_adapters()
    torch.testing.assert_close(task.logits(adapted.clip), with_adapters,
                               atol=1e-5, rtol=1e-4)
