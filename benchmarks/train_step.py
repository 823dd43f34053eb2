"""Training step (forward, backward, AdamW step) of the paper-scale model:
median time and peak memory at batch 2 and 8, and step time / inference
forward time. Each batch size runs in its own process so that peak memory
(max RSS) is its own.
Usage: python benchmarks/train_step.py [--repeats 2]
"""
import argparse
import json
import resource
import subprocess
import sys

from common import median_time, paper_model, text_batch, torch, write_result


def one(batch, repeats):
    model = paper_model()
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
    img = torch.randn(batch, 3, 416, 416)
    ids, mask = text_batch(batch)
    label = torch.randint(0, 2, (batch, 416, 416))
    focal, dice = model.decode_head.loss_decode

    def forward():
        return model.decode_head(model.encode(img, ids, mask))

    def step():
        logits = torch.nn.functional.interpolate(
            forward(), size=(416, 416), mode='bilinear')
        loss = focal(logits, label) + dice(logits, label)
        optim.zero_grad()
        loss.backward()
        optim.step()

    t_step = median_time(step, repeats)
    model.eval()
    with torch.no_grad():
        t_fwd = median_time(forward, repeats)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return dict(batch=batch, step_s=round(t_step, 3),
                forward_s=round(t_fwd, 3),
                step_over_forward=round(t_step / t_fwd, 2),
                peak_rss_gib=round(peak, 2))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--repeats', type=int, default=2)
    parser.add_argument('--batch', type=int, help='(internal) one size')
    args = parser.parse_args()
    if args.batch:
        print(json.dumps(one(args.batch, args.repeats)))
        return
    rows = []
    for batch in (2, 8):
        out = subprocess.run(
            [sys.executable, __file__, '--batch', str(batch), '--repeats',
             str(args.repeats)], capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    write_result('train_step', dict(rows=rows))


if __name__ == '__main__':
    main()
