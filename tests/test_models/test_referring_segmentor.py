import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData

from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from tests.tiny_models import tiny_model_cfg


def batch(shapes):
    inputs, samples = [], []
    for h, w in shapes:
        inputs.append(torch.randint(0, 255, (3, h, w)).float())
        s = SegDataSample(metainfo=dict(
            ori_shape=(h * 2, w * 2), img_shape=(h, w), text='red circle',
            token_ids=np.array([49406, 736, 7117, 49407, 0, 0]),
            token_mask=np.array([1, 1, 1, 1, 0, 0], bool)))
        s.gt_sem_seg = PixelData(data=torch.randint(0, 2, (1, h, w)))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def test_loss_and_predict_at_original_size():
    model = MODELS.build(tiny_model_cfg())
    data = model.data_preprocessor(batch([(64, 48), (40, 64)]), True)
    losses = model(**data, mode='loss')
    assert {'decode.loss_focal', 'decode.loss_dice'} <= set(losses)
    model.eval()
    data = model.data_preprocessor(batch([(64, 48), (40, 64)]), False)
    with torch.no_grad():
        out = model(**data, mode='predict')
    # padding removed, then resized to ori_shape (2x the input)
    assert out[0].pred_sem_seg.shape == (128, 96)
    assert out[1].pred_sem_seg.shape == (80, 128)
    probs = out[0].seg_logits.data
    # by hand: logits at 1/4 of the padded 64x64 input, resized to it,
    # the right padding (48..63) cropped, resized to ori_shape, sigmoid
    with torch.no_grad():
        logits = model(**data, mode='tensor')[:1]
    padded = F.interpolate(logits, size=(64, 64), mode='bilinear',
                           align_corners=False)[..., :, :48]
    expected = F.interpolate(padded, size=(128, 96), mode='bilinear',
                             align_corners=False).sigmoid()[0]
    torch.testing.assert_close(probs, expected)
    assert torch.equal(out[0].pred_sem_seg.data, (probs > 0.5).to(probs))


def test_expression_changes_prediction():
    model = MODELS.build(tiny_model_cfg()).eval()
    data = model.data_preprocessor(batch([(64, 64)]), False)
    with torch.no_grad():
        a = model(**data, mode='tensor')
        data['data_samples'][0].set_metainfo(dict(
            token_ids=np.array([49406, 1746, 7117, 49407, 0, 0])))
        b = model(**data, mode='tensor')
    assert not torch.allclose(a, b)


def test_missing_tokens_is_a_clear_error():
    model = MODELS.build(tiny_model_cfg()).eval()
    with pytest.raises(KeyError, match='TokenizeExpression'):
        model(torch.zeros(1, 3, 64, 64), [SegDataSample()], mode='tensor')


def shared_image_batch():
    """Six samples over four distinct images: A (three times, once with no
    path), B (twice), D (A's path, other pixels), E (A's pixels, other
    path)."""
    gen = torch.Generator().manual_seed(3)
    a, b, d = (torch.randint(0, 255, (3, 64, 48), generator=gen).float()
               for _ in range(3))
    images = [a, b, a.clone(), a.clone(), d, b.clone(), a.clone()]
    paths = ['a.jpg', 'b.jpg', 'a.jpg', None, 'a.jpg', 'b.jpg', 'e.jpg']
    words = [736, 1746, 7117, 2866, 736, 3360, 1746]
    samples = []
    for path, word in zip(paths, words):
        samples.append(SegDataSample(metainfo=dict(
            img_path=path, ori_shape=(64, 48), img_shape=(64, 48),
            text='x', token_ids=np.array([49406, word, 7117, 49407, 0, 0]),
            token_mask=np.array([1, 1, 1, 1, 0, 0], bool))))
    return dict(inputs=images, data_samples=samples)


def count_vision_images(model):
    """List that receives the batch size of every vision tower run."""
    sizes = []
    model.backbone.clip.vision_model.embeddings.register_forward_hook(
        lambda mod, args, out: sizes.append(out.shape[0]))
    return sizes


def test_group_images_by_equal_tensors():
    model = MODELS.build(tiny_model_cfg()).eval()
    data = model.data_preprocessor(shared_image_batch(), False)
    metas = [s.metainfo for s in data['data_samples']]
    distinct, index = model.group_images(data['inputs'], metas)
    # A, B, A, A (no path: compared), D (A's path, differs), B,
    # E (A's pixels under another path: not compared)
    assert index.tolist() == [0, 1, 0, 0, 2, 1, 3]
    assert torch.equal(distinct, data['inputs'][[0, 1, 4, 6]])
    distinct, index = model.group_images(data['inputs'][:2], metas[:2])
    assert index is None and distinct.shape[0] == 2


def test_each_image_encoded_once_gives_the_same_predictions():
    model = MODELS.build(tiny_model_cfg()).eval()
    with torch.no_grad():  # as if trained: LoRA B is zero at init
        for name, p in model.named_parameters():
            if 'lora_B' in name:
                p.normal_(0, 0.2)
    sizes = count_vision_images(model)
    outs = {}
    for once in (False, True):
        model.test_cfg['encode_each_image_once'] = once
        with torch.no_grad():
            outs[once] = model.test_step(shared_image_batch())
    assert sizes == [7, 4]  # per sentence, then once per distinct image
    for a, b in zip(outs[False], outs[True]):
        torch.testing.assert_close(b.seg_logits.data, a.seg_logits.data,
                                   atol=1e-5, rtol=1e-5)
        assert torch.equal(b.pred_sem_seg.data, a.pred_sem_seg.data)
    # the sentences differ, so the shared image still gives other masks
    assert not torch.allclose(outs[True][0].seg_logits.data,
                              outs[True][2].seg_logits.data)


def test_merge_adapters_at_first_prediction_only_for_inference():
    model = MODELS.build(tiny_model_cfg()).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'lora_B' in name:
                p.normal_(0, 0.2)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        before = model.test_step(shared_image_batch())
    assert not model.backbone.adapters_merged
    model.test_cfg['merge_adapters'] = True
    with torch.no_grad():
        merged = model.test_step(shared_image_batch())
    assert model.backbone.adapters_merged
    q = model.backbone.clip.vision_model.encoder.layers[0].self_attn.q_proj
    assert not torch.equal(
        q.base_layer.weight,
        state['backbone.clip.vision_model.encoder.layers.0.self_attn.q_proj'
              '.base_layer.weight'])  # the delta is in the weight now
    for a, b in zip(before, merged):
        torch.testing.assert_close(b.seg_logits.data, a.seg_logits.data,
                                   atol=1e-5, rtol=1e-5)
        assert torch.equal(b.pred_sem_seg.data, a.pred_sem_seg.data)
    with pytest.raises(RuntimeError, match='merge_adapters=False'):
        model.train()
    # loading weights unmerges first: the loaded adapters are used as given
    other = {k: v + 0.05 if 'lora_B' in k else v for k, v in state.items()}
    model.load_state_dict(other)
    assert not model.backbone.adapters_merged
    reference = MODELS.build(tiny_model_cfg()).eval()
    reference.load_state_dict(other)
    with torch.no_grad():
        want = reference.test_step(shared_image_batch())
        got = model.test_step(shared_image_batch())  # merges again
    assert model.backbone.adapters_merged
    for a, b in zip(want, got):
        torch.testing.assert_close(b.seg_logits.data, a.seg_logits.data,
                                   atol=1e-5, rtol=1e-5)
