"""How HARIS's cost grows with the input size and the sentence length.

Paper-scale model (CLIP ViT-B/16 + text, D=256), random weights, batch 1:
end-to-end time, the encoders' time and their ratio at inputs 320, 416,
480, 640 and sentences of 5, 20, 40 tokens (start and end included); the
fusion (HLA neck) time and GFLOPs against the number of visual tokens, with
a least-squares line through the origin to show it is linear. Writes JSON
and a PNG.
Usage: python benchmarks/scaling.py [--repeats 2]
"""
import argparse
import os.path as osp
import statistics

from common import (RESULTS, median_time, np, paper_model, text_batch, torch,
                    write_result)

from tools.analysis.flop_count import flops_table

SIZES = (320, 416, 480, 640)
TOKENS = (5, 20, 40)


def measure(model, size, tokens, repeats):
    img = torch.randn(1, 3, size, size)
    ids, mask = text_batch(1, length=tokens, words=tokens - 2)
    feats = model.backbone(img, ids, mask)

    def encoders():
        model.backbone(img, ids, mask)

    def full():
        model.decode_head(model.encode(img, ids, mask))

    def neck():
        model.neck(feats['visual'], feats['words'], feats['sentence'],
                   feats['word_padding_mask'])

    # alternate so that machine noise hits all three alike
    runs = [(median_time(encoders, 1, 0), median_time(full, 1, 0),
             median_time(neck, 1, 0)) for _ in range(repeats + 1)][1:]
    t_enc, t_full, t_neck = (statistics.median(r[i] for r in runs)
                             for i in range(3))
    levels = len(feats['visual'])
    return dict(size=size, tokens=tokens,
                visual_tokens=levels * (size // 16)**2,
                encoders_s=round(t_enc, 4), full_s=round(t_full, 4),
                ratio=round(statistics.median(r[1] / r[0] for r in runs), 4),
                neck_s=round(t_neck, 4),
                neck_gflops=round(
                    flops_table(model, size, tokens, tokens)['neck'], 4))


def linear_fit(x, y):
    """Slope of y = a x through the origin and its R^2 (about the mean)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    a = float(x @ y / (x @ x))
    r2 = 1 - float(((y - a * x)**2).sum() / ((y - y.mean())**2).sum())
    return a, r2


def plot(rows, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for tokens in TOKENS:
        sel = [r for r in rows if r['tokens'] == tokens]
        sizes = [r['size'] for r in sel]
        axes[0].plot(sizes, [r['full_s'] for r in sel], marker='o',
                     label=f'HARIS, {tokens} tokens')
        axes[0].plot(sizes, [r['encoders_s'] for r in sel], ls='--',
                     marker='.', label=f'encoders, {tokens} tokens')
        axes[1].plot(sizes, [r['ratio'] for r in sel], marker='o',
                     label=f'{tokens} tokens')
        n = [r['visual_tokens'] for r in sel]
        axes[2].plot(n, [r['neck_s'] * 1000 for r in sel], marker='o',
                     label=f'neck ms, {tokens} tokens')
    axes[0].set(xlabel='input side (px)', ylabel='seconds (batch 1)')
    axes[1].set(xlabel='input side (px)', ylabel='HARIS / encoders time')
    axes[2].set(xlabel='visual tokens (3 levels)', ylabel='HLA neck (ms)')
    for ax in axes:
        ax.grid(alpha=.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--repeats', type=int, default=2)
    args = parser.parse_args()
    model = paper_model().eval()
    with torch.no_grad():
        rows = [measure(model, s, t, args.repeats) for t in TOKENS
                for s in SIZES]
    fits = {}
    for tokens in TOKENS:
        sel = [r for r in rows if r['tokens'] == tokens]
        n = [r['visual_tokens'] for r in sel]
        slope_s, r2_s = linear_fit(n, [r['neck_s'] for r in sel])
        slope_f, r2_f = linear_fit(n, [r['neck_gflops'] for r in sel])
        fits[tokens] = dict(neck_ms_per_1k_visual_tokens=round(
            slope_s * 1e6, 3), r2_time=round(r2_s, 4),
            neck_gflops_per_1k_visual_tokens=round(slope_f * 1e3, 4),
            r2_gflops=round(r2_f, 6))
    png = osp.join(RESULTS, 'scaling.png')
    plot(rows, png)
    write_result('scaling', dict(batch=1, rows=rows, neck_linear_fit=fits,
                                 plot=osp.basename(png)))


if __name__ == '__main__':
    main()
