"""End-to-end HARIS forward time / the two encoders' forward time.

Paper-scale model (CLIP ViT-B/16 + text, D=256, 416x416), random weights,
eval mode, no grad, median of repeated runs in one process.
Usage: python benchmarks/inference_overhead.py [--repeats 5]
"""
import argparse
import statistics

from common import median_time, paper_model, text_batch, torch, write_result


def measure(model, batch, size, words, repeats):
    img = torch.randn(batch, 3, size, size)
    ids, mask = text_batch(batch, length=max(22, words + 2), words=words)

    def encoders():
        model.backbone(img, ids, mask)

    def full():
        model.decode_head(model.encode(img, ids, mask))

    with torch.no_grad():
        # alternate the two so that machine noise hits both alike
        pairs = [(median_time(encoders, 1, warmup=0),
                  median_time(full, 1, warmup=0))
                 for _ in range(repeats + 1)][1:]
    t_enc = statistics.median(p[0] for p in pairs)
    t_full = statistics.median(p[1] for p in pairs)
    # each pair is timed back to back, so its own ratio is the least noisy
    ratio = statistics.median(full / enc for enc, full in pairs)
    return dict(batch=batch, size=size, words=words,
                encoders_s=round(t_enc, 4), full_s=round(t_full, 4),
                ratio=round(ratio, 4))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--repeats', type=int, default=7)
    args = parser.parse_args()
    model = paper_model().eval()
    rows = [measure(model, b, 416, 10, args.repeats) for b in (1, 8)]
    write_result('inference_overhead', dict(rows=rows, target_ratio=1.10))


if __name__ == '__main__':
    main()
