"""HARIS inference time / the plain CLIP encoders' time (the floor).

Paper-scale model (CLIP ViT-B/16 + text, D=256, 416x416, 10-word
sentences), random weights, eval mode, no grad, one process.

- floor: a plain ``transformers`` ``CLIPModel`` of the same architecture,
  no adapters, as a user runs it: ``vision_model(pixel_values,
  interpolate_pos_encoding=True)`` (all 12 layers, post-norm, pooling) on
  the distinct images plus ``text_model(input_ids, attention_mask)`` on
  the sentences; no projection heads.
- HARIS: ``ReferringSegmentor.predict`` on the preprocessed batch as
  evaluation and the inferencer run it: adapters merged, vision tower up to
  the deepest used layer, each distinct image encoded once (the vision
  tower and the neck's image-only part), neck, head, sigmoid, threshold
  and resizing to the input size. Where the time of 1 image x 8 sentences
  goes, part by part: ``inference_breakdown.py``.
- HARIS, adapters unmerged: the same with LoRA left as separate layers.

Workloads: 1 image x 1 sentence; 8 images x 1 sentence each; 1 image x 8
sentences. The arms are timed back to back in each round (round 0 warms
up), so machine noise hits them alike; a ratio is the median of the
per-round ratios.
Usage: python benchmarks/inference_overhead.py [--repeats 5]
       [--workloads 1x1 8x1 1x8] [--name inference_overhead]
"""
import argparse
import statistics

from common import (median_time, paper_model, text_batch, torch,
                    write_result)
from mmseg.structures import SegDataSample
from projects.haris.models.backbones import ARCHITECTURES
from projects.haris.models.backbones.clip_backbone import build_clip


def workload(images, sentences_per_image, size, words):
    """Preprocessed inputs (one row per sentence) and their samples."""
    img = torch.randn(images, 3, size, size)
    inputs = img.repeat_interleave(sentences_per_image, 0)
    n = images * sentences_per_image
    ids, mask = text_batch(n, length=max(22, words + 2), words=words)
    samples = [
        SegDataSample(metainfo=dict(
            img_path=f'{i // sentences_per_image}.jpg',
            ori_shape=(size, size), img_shape=(size, size),
            pad_shape=(size, size), padding_size=[0, 0, 0, 0],
            token_ids=ids[i].numpy(), token_mask=mask[i].numpy()))
        for i in range(n)]
    return img, inputs, ids, mask, samples


def measure(model, clip, images, per_image, size, words, repeats):
    img, inputs, ids, mask, samples = workload(images, per_image, size,
                                               words)

    def floor():
        clip.vision_model(pixel_values=img, interpolate_pos_encoding=True)
        clip.text_model(input_ids=ids, attention_mask=mask.long())

    def haris(merged):
        if merged:
            model.backbone.merge_adapters()
        else:
            model.backbone.unmerge_adapters()
        return lambda: model.predict(inputs, samples)

    rounds = []
    with torch.no_grad():
        for _ in range(repeats + 1):
            t_unmerged = median_time(haris(False), 1, warmup=0)
            t_merged = median_time(haris(True), 1, warmup=0)
            rounds.append((median_time(floor, 1, warmup=0), t_merged,
                           t_unmerged))
    rounds = rounds[1:]

    def med(k):
        return round(statistics.median(r[k] for r in rounds), 4)

    def ratio(k):
        return round(statistics.median(r[k] / r[0] for r in rounds), 4)

    return dict(images=images, sentences_per_image=per_image, size=size,
                words=words, floor_s=med(0), haris_s=med(1),
                haris_unmerged_s=med(2), ratio=ratio(1),
                ratio_unmerged=ratio(2))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--workloads', nargs='+',
                        default=['1x1', '8x1', '1x8'],
                        help='IMAGESxSENTENCES_PER_IMAGE')
    parser.add_argument('--name', default='inference_overhead',
                        help='result file name under benchmarks/results')
    args = parser.parse_args()
    workloads = [tuple(int(n) for n in w.split('x')) for w in args.workloads]
    model = paper_model().eval()
    with torch.no_grad():  # adapters as if trained (LoRA B starts at 0)
        for name, p in model.named_parameters():
            if 'lora_B' in name:
                p.normal_(0, 0.01)
    clip = build_clip(None, ARCHITECTURES['openai/clip-vit-base-patch16'])
    clip.eval()
    rows = [measure(model, clip, images, per_image, 416, 10, args.repeats)
            for images, per_image in workloads]
    write_result(args.name, dict(
        rows=rows, target_ratio=1.10,
        floor='plain CLIPModel vision_model + text_model, no adapters'))


if __name__ == '__main__':
    main()
