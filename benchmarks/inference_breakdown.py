"""Where HARIS's inference time goes when one image has many sentences.

Paper-scale model (as ``inference_overhead.py``: CLIP ViT-B/16 + text,
D=256, 416x416, 10-word sentences, random weights with non-zero LoRA,
adapters merged), eval mode, no grad, one image x 8 sentences by default.
Each round times, back to back (round 0 warms up):

- floor: the plain CLIP encoders (vision on the image, text on the
  sentences), as in ``inference_overhead.py``;
- vision: the backbone's vision tower on the distinct images;
- text: the backbone's text tower on the sentences;
- neck_image: what the HLA neck computes from the image alone, once per
  image (input projections, positions, the deepest level's projections of
  the visual tokens);
- neck: the whole neck with ``image_index`` (image-only part once per
  image); ``neck_text`` = neck - neck_image;
- neck_per_sentence: the neck on one copy of the maps per sentence (before
  the image-only part was shared);
- pixel_decoder: the head's pixel decoder on the fused maps (per sentence);
  ``query_decoder`` = head - pixel_decoder (query, decoder layers, mask,
  resizing to the input);
- head: ``decode_head.predict`` on the neck's output; head_image: the
  same with ``pixel_embeddings='image'``;
- pixel_decoder_image: the pixel decoder on the image-only maps, once per
  image (``pixel_embeddings='image'``);
- haris: ``ReferringSegmentor.predict`` end to end; haris_image_pixels: the
  same with ``decode_head.pixel_embeddings='image'``; haris_ffn1: also
  with the HLA blocks' FFN at 1x width instead of 4x (another model,
  ``neck.ffn_ratio=1``); haris_text_levels1: image pixels and only the
  deepest level fused with the text (``neck.text_levels=1``).

Times are the process's CPU seconds (``time.process_time``; one thread),
which other processes on a loaded machine lengthen far less than wall
time; medians over rounds; a part's ``ratio`` is the median of its
per-round time over the floor's.
Usage: python benchmarks/inference_breakdown.py [--repeats 3]
       [--workload 1x8] [--name inference_breakdown]
"""
import argparse
import statistics
import time

from common import paper_model, torch, write_result
from inference_overhead import workload
from mmseg.registry import MODELS
from projects.haris.models.backbones import ARCHITECTURES
from projects.haris.models.backbones.clip_backbone import build_clip
from projects.haris.models.utils.attention_parts import project


def trained_like(model):
    """Non-zero LoRA (B starts at 0), adapters merged, eval mode."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'lora_B' in name:
                p.normal_(0, 0.01)
    model.eval()
    model.backbone.merge_adapters()
    return model


def lighter(model, **neck):
    """A paper-scale model whose HLA neck differs by ``neck`` and whose
    head upsamples the image-only maps (``pixel_embeddings='image'``)."""
    other = paper_model()
    other.neck = MODELS.build(dict(
        type='HLANeck', in_channels=model.neck.in_channels,
        text_channels=512, dim=256, num_heads=8, **neck))
    other.decode_head.pixel_embeddings = 'image'
    return trained_like(other)


def neck_image_only(neck, visual):
    """The neck's image-only work, as its forward does it with
    ``image_index``."""
    tokens = neck.project_visual(visual)
    deepest, v = neck.blocks[-1], tokens[-1]
    parts = [(deepest.lwa, 'query')]
    if deepest.vwa:
        if deepest.feedback_to == 'query' or not deepest.feedback:
            parts += [(deepest.word_attn, 'key'),
                      (deepest.word_attn, 'value')]
        parts.append((deepest.vision_attn, 'query'))
    return tokens, [project(attn, v, part) for attn, part in parts]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--workload', default='1x8',
                        help='IMAGESxSENTENCES_PER_IMAGE')
    parser.add_argument('--name', default='inference_breakdown')
    args = parser.parse_args()
    images, per_image = (int(n) for n in args.workload.split('x'))
    size, words = 416, 10
    torch.manual_seed(0)
    model = trained_like(paper_model())
    ffn1 = lighter(model, ffn_ratio=1)
    deepest = lighter(model, text_levels=1)
    clip = build_clip(None, ARCHITECTURES['openai/clip-vit-base-patch16'])
    clip.eval()
    img, inputs, ids, mask, samples = workload(images, per_image, size,
                                               words)
    index = torch.arange(images).repeat_interleave(per_image)
    metas = [s.metainfo for s in samples]
    bb, neck, head = model.backbone, model.neck, model.decode_head
    with torch.no_grad():
        vis = bb.forward_vision(img)
        text = bb.forward_text(ids, mask)
        feats = neck(vis, text['words'], text['sentence'],
                     text['word_padding_mask'], index)
    t_args = (text['words'], text['sentence'], text['word_padding_mask'])

    def head_predict(pixels):
        head.pixel_embeddings = pixels
        return head.predict(feats, metas, model.test_cfg)

    def predict(m, pixels):
        def run():
            m.decode_head.pixel_embeddings = pixels
            m.predict(inputs, samples)
        return run

    parts = dict(
        floor=lambda: (clip.vision_model(pixel_values=img,
                                         interpolate_pos_encoding=True),
                       clip.text_model(input_ids=ids,
                                       attention_mask=mask.long())),
        vision=lambda: bb.forward_vision(img),
        text=lambda: bb.forward_text(ids, mask),
        neck_image=lambda: neck_image_only(neck, vis),
        neck=lambda: neck(vis, *t_args, index),
        neck_per_sentence=lambda: neck([v[index] for v in vis], *t_args),
        pixel_decoder=lambda: head.pixel_decoder(
            head.pixel_decoder.merge_levels(feats[:-1])),
        head=lambda: head_predict('fused'),
        head_image=lambda: head_predict('image'),
        pixel_decoder_image=lambda: head.pixel_decoder(
            head.pixel_decoder.merge_levels(feats[-1]['visual'])),
        haris=predict(model, 'fused'),
        haris_image_pixels=predict(model, 'image'),
        haris_ffn1=predict(ffn1, 'image'),
        haris_text_levels1=predict(deepest, 'image'),
    )
    rounds = []
    with torch.no_grad():
        for _ in range(args.repeats + 1):
            times = {}
            for name, fn in parts.items():
                start = time.process_time()
                fn()
                times[name] = time.process_time() - start
            times['neck_text'] = times['neck'] - times['neck_image']
            times['query_decoder'] = times['head'] - times['pixel_decoder']
            rounds.append(times)
    rounds = rounds[1:]
    result = {}
    for name in rounds[0]:
        result[name] = dict(
            s=round(statistics.median(r[name] for r in rounds), 4),
            ratio=round(statistics.median(r[name] / r['floor']
                                          for r in rounds), 4))
    write_result(args.name, dict(
        images=images, sentences_per_image=per_image, size=size,
        words=words, repeats=args.repeats, parts=result,
        clock='process CPU time',
        floor='plain CLIPModel vision_model + text_model, no adapters'))


if __name__ == '__main__':
    main()
