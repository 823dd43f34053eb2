"""The same paper-scale forward in fp32 and under CPU bf16 autocast:
time ratio and the largest difference of the mask probabilities.
Usage: python benchmarks/amp_bf16.py [--batch 2]
"""
import argparse
import statistics

from common import median_time, paper_model, text_batch, torch, write_result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=5)
    args = parser.parse_args()
    model = paper_model().eval()
    img = torch.randn(args.batch, 3, 416, 416)
    ids, mask = text_batch(args.batch)

    def forward():
        return model.decode_head(model.encode(img, ids, mask)).float().sigmoid()

    def bf16():
        with torch.autocast('cpu', dtype=torch.bfloat16):
            return forward()

    with torch.no_grad():
        p32, p16 = forward(), bf16()
        pairs = [(median_time(forward, 1, 0), median_time(bf16, 1, 0))
                 for _ in range(args.repeats)]
    t32 = statistics.median(p[0] for p in pairs)
    t16 = statistics.median(p[1] for p in pairs)
    diff = (p32 - p16).abs()
    write_result('amp_bf16', dict(
        batch=args.batch, fp32_s=round(t32, 3), bf16_s=round(t16, 3),
        bf16_over_fp32=round(t16 / t32, 3),
        max_prob_diff=round(float(diff.max()), 4),
        mask_agreement=round(float(((p32 > .5) == (p16 > .5)).float()
                                   .mean()), 5)))


if __name__ == '__main__':
    main()
