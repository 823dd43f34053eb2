"""QueryDecodeHead(pixel_embeddings='image'): the pixel decoder runs on
the neck's image-only maps, once per image."""
import pytest
import torch

from tests.test_models.test_image_shared_terms import (INDEX, build_model,
                                                       model_inputs)


def pixel_decoder_batches(head):
    sizes = []
    head.pixel_decoder.stages[0].register_forward_hook(
        lambda mod, args, out: sizes.append(out.shape[0]))
    return sizes


def test_pixels_once_per_image_with_the_per_sentence_logits():
    model = build_model(no_target=True).eval()
    model.decode_head.pixel_embeddings = 'image'
    images, ids, mask, samples = model_inputs(model)
    metas = [s.metainfo for s in samples]
    sizes = pixel_decoder_batches(model.decode_head)
    with torch.no_grad():
        shared = model.decode_head.predict_with_no_target(
            model.encode(images, ids, mask, INDEX), metas, model.test_cfg)
        plain = model.decode_head.predict_with_no_target(
            model.encode(images[INDEX], ids, mask), metas, model.test_cfg)
        model.decode_head.pixel_embeddings = 'fused'
        fused = model.decode_head.predict_with_no_target(
            model.encode(images, ids, mask, INDEX), metas, model.test_cfg)
    assert sizes == [3, 6, 6]  # once per image; per sentence without index
    for got, want in zip(shared, plain):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    # a different model: the fused maps' pixels give other logits
    assert (shared[0] - fused[0]).abs().max() > 1e-2


def test_pixels_depend_on_the_image_only():
    model = build_model().eval()
    head = model.decode_head
    head.pixel_embeddings = 'image'
    images, ids, mask, _ = model_inputs(model)
    pixels = []
    head.pixel_decoder.register_forward_hook(
        lambda mod, args, out: pixels.append(out))
    with torch.no_grad():
        x = model.encode(images[INDEX], ids, mask)
        head.decode(x)
        other = model.encode(images[INDEX], ids.flip(0), mask.flip(0))
        head.decode(other)
        head.pixel_embeddings = 'fused'
        head.decode(x)
        head.decode(other)
    image_a, image_b, fused_a, fused_b = pixels
    torch.testing.assert_close(image_a, image_b)  # other sentences
    assert (fused_a - fused_b).abs().max() > 1e-3


def test_image_pixels_need_the_image_maps():
    model = build_model().eval()
    head = model.decode_head
    head.pixel_embeddings = 'image'
    images, ids, mask, _ = model_inputs(model)
    with torch.no_grad():
        *levels, text = model.encode(images, ids[:3], mask[:3])
    text.pop('visual')
    with pytest.raises(ValueError, match="text\\['visual'\\]"):
        head.decode((*levels, text))
    with pytest.raises(ValueError, match='pixel_embeddings'):
        type(head)(in_channels=32, channels=32, pixel_embeddings='visual',
                   norm_cfg=dict(type='GN', num_groups=8))


def test_training_gradients_equal_per_image_and_per_sentence():
    model = build_model(no_target=True).train()
    model.decode_head.pixel_embeddings = 'image'
    images, ids, mask, samples = model_inputs(model)
    grads = []
    for args in ((images, ids, mask, INDEX), (images[INDEX], ids, mask)):
        model.zero_grad()
        loss = model.decode_head.loss(model.encode(*args), samples,
                                      model.train_cfg)
        sum(v for k, v in loss.items() if k.startswith('loss')).backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()
                      if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    assert 'decode_head.pixel_decoder.stages.0.conv.weight' in grads[0]
    for name, want in grads[1].items():
        torch.testing.assert_close(grads[0][name], want, atol=1e-5,
                                   rtol=1e-4, msg=name)
