"""Training memory and time of the paper-scale model with and without
gradient checkpointing, the batch per GPU that fits, and the training
FLOPs per sample.

Paper-scale model (``common.paper_model``: random CLIP ViT-B/16 + text,
LoRA, the paper config's neck and head, 416x416, 10-word sentences), one
training step: forward, focal + dice at 416 px, backward, AdamW on the
trainable parameters (as ``benchmarks/train_step.py``).

- memory: each (batch, arm) in a fresh process; peak resident memory
  (VmHWM) over ``1 + steps`` steps, reset after the model is built and
  AdamW's state allocated (a step on zero gradients), so the build's
  transient does not count and the first step already holds what every
  later one does. CPU RSS
  is a proxy for GPU memory. Fitting peak = fixed + per_sample * batch
  over the batch sizes gives the activation memory per sample (slope)
  and the fixed part (intercept; weights, gradients, optimizer state and
  the process's own libraries, ``runtime_gib``, which a GPU does not
  hold).
- time: per batch size one process times the two arms back to back each
  round (round 0 warms up, the order alternates), the ratio is the median
  of the per-round ratios; of wall time and of the process's CPU time
  (less sensitive to other processes on a shared machine).
- batch per GPU (an estimate until a GPU run replaces it):
  ``floor((0.9 * G - 1 GiB - (fixed - runtime)) / per_sample)``: 1 GiB
  for the CUDA context and cuBLAS/cuDNN workspaces, 10% of the card for
  the caching allocator's fragmentation.
- FLOPs: ``torch.utils.flop_counter.FlopCounterMode`` (matmuls, convs,
  attention; element-wise ops not counted) of one sample's forward and
  backward in training mode, attention through the math kernel so it is
  counted on CPU; beside it the 3x-forward convention.

Usage: python benchmarks/activation_memory.py [--batches 1 4 8]
       [--timing-batches 1 4 8] [--steps 2]
"""
import argparse
import json
import math
import re
import statistics
import subprocess
import sys
import time

from common import paper_model, text_batch, torch, write_result

GPUS_GIB = (24, 40, 80)
CUDA_CONTEXT_GIB = 1.0
FRAGMENTATION = 0.10


def memory_status():
    """Current (VmRSS) and peak (VmHWM) resident memory in GiB."""
    with open('/proc/self/status') as f:
        found = dict(re.findall(r'(VmRSS|VmHWM):\s+(\d+) kB', f.read()))
    return {k: int(v) / 2**20 for k, v in found.items()}


def reset_peak():
    """Start VmHWM again from the current resident memory (Linux)."""
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')


def training_step(batch, checkpointing):
    """The model and a function running one training step."""
    model = paper_model()
    model.train()
    model.backbone.gradient_checkpointing = checkpointing
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
    img = torch.randn(batch, 3, 416, 416)
    ids, mask = text_batch(batch)
    label = torch.randint(0, 2, (batch, 416, 416))
    focal, dice = model.decode_head.loss_decode

    def step():
        logits = torch.nn.functional.interpolate(
            model.decode_head(model.encode(img, ids, mask)),
            size=(416, 416), mode='bilinear')
        loss = focal(logits, label) + dice(logits, label)
        optim.zero_grad()
        loss.backward()
        optim.step()

    def allocate_optimizer_state():
        for p in params:
            p.grad = torch.zeros_like(p)
        optim.step()
        optim.zero_grad()

    step.allocate_optimizer_state = allocate_optimizer_state
    return model, step


def memory_arm(batch, checkpointing, steps):
    """Peak memory of the training steps, in this (fresh) process."""
    runtime = memory_status()['VmRSS']  # libraries, no model yet
    _, step = training_step(batch, checkpointing)
    step.allocate_optimizer_state()
    built = memory_status()['VmRSS']
    reset_peak()
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return dict(batch=batch, checkpointing=checkpointing, steps=steps + 1,
                runtime_gib=round(runtime, 3),
                model_built_gib=round(built, 3),
                peak_gib=round(memory_status()['VmHWM'], 3),
                step_s=round(statistics.median(times[1:] or times), 2))


def timing(batch, steps):
    """Step time with / without checkpointing, back to back per round."""
    model, step = training_step(batch, False)
    rounds = []
    for r in range(steps + 1):
        t = {}
        for on in ((False, True) if r % 2 else (True, False)):
            model.backbone.gradient_checkpointing = on
            start = time.perf_counter(), time.process_time()
            step()
            t[on] = (time.perf_counter() - start[0],
                     time.process_time() - start[1])
        rounds.append(t)
    rounds = rounds[1:]

    def median(fn):
        return round(statistics.median(fn(t) for t in rounds), 3)

    return dict(
        batch=batch,
        step_s=median(lambda t: t[False][0]),
        step_checkpointed_s=median(lambda t: t[True][0]),
        ratio=median(lambda t: t[True][0] / t[False][0]),
        cpu_ratio=median(lambda t: t[True][1] / t[False][1]))


def flops(model=None, size=416):
    """FLOPs of one sample's training forward and backward, by part, and
    the forward's multiply-adds by mmengine's FlopAnalyzer (the count of
    ``tools/analysis/count_params.py --flops``) as a cross-check."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    from tools.analysis.flop_count import flops_table
    model = (model or paper_model()).train()
    img = torch.randn(1, 3, size, size)
    ids, mask = text_batch(1)
    out = {}
    for on in (False, True):
        model.backbone.gradient_checkpointing = on
        forward = FlopCounterMode(display=False)
        backward = FlopCounterMode(display=False)
        with sdpa_kernel(SDPBackend.MATH):
            with forward:
                logits = model.decode_head(model.encode(img, ids, mask))
            with backward:
                logits.square().mean().backward()
        by_part = forward.get_flop_counts()
        parts = {  # counted under each top module's class name
            part: sum(by_part[type(getattr(model, part)).__name__].values())
            / 1e9 for part in ('backbone', 'neck', 'decode_head')
        }
        key = 'checkpointed' if on else 'plain'
        out[key] = dict(
            forward_gflops=round(forward.get_total_flops() / 1e9, 2),
            backward_gflops=round(backward.get_total_flops() / 1e9, 2),
            forward_by_part_gflops={k: round(v, 2)
                                    for k, v in parts.items()})
        model.zero_grad()
    plain = out['plain']
    fwd, bwd = plain['forward_gflops'], plain['backward_gflops']
    macs = flops_table(model, size, ids.shape[1], int(mask.sum()))
    return dict(
        per_sample=True, size=size, words=10,
        forward_gmacs_mmengine=round(macs['total'], 2),
        counted='matmul, conv and attention FLOPs (2 per multiply-add); '
        'element-wise ops, norms and the loss not counted',
        training_gflops_measured=round(fwd + bwd, 2),
        training_gflops_checkpointed=round(
            out['checkpointed']['forward_gflops'] +
            out['checkpointed']['backward_gflops'], 2),
        training_gflops_3x_forward=round(3 * fwd, 2),
        note='measured = forward + backward as run: the frozen encoders '
        'compute no weight gradients, so backward < 2x forward; '
        'checkpointed adds the recomputed forward of the towers\' layers',
        **out)


def fit(rows):
    """Least-squares peak = fixed + per_sample * batch."""
    xs = [r['batch'] for r in rows]
    ys = [r['peak_gib'] for r in rows]
    mx, my = statistics.mean(xs), statistics.mean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum(
        (x - mx)**2 for x in xs)
    fixed = my - slope * mx
    residual = max(abs(y - fixed - slope * x) for x, y in zip(xs, ys))
    runtime = statistics.mean(r['runtime_gib'] for r in rows)
    return dict(per_sample_gib=round(slope, 4), fixed_gib=round(fixed, 3),
                runtime_gib=round(runtime, 3),
                fixed_on_gpu_gib=round(fixed - runtime, 3),
                max_fit_residual_gib=round(residual, 3))


def batch_per_gpu(fitted):
    """{GPU GiB: largest batch that fits}, by the formula above."""
    usable = {
        g: (1 - FRAGMENTATION) * g - CUDA_CONTEXT_GIB -
        fitted['fixed_on_gpu_gib']
        for g in GPUS_GIB
    }
    return {
        str(g): max(0, math.floor(u / fitted['per_sample_gib']))
        for g, u in usable.items()
    }


def run(*args):
    out = subprocess.run([sys.executable, __file__, *args],
                         capture_output=True, text=True)
    if out.returncode:
        sys.exit(f'{" ".join(args)} failed:\n{out.stderr[-3000:]}')
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--batches', type=int, nargs='+', default=[1, 4, 8])
    parser.add_argument('--timing-batches', type=int, nargs='+',
                        help='batch sizes timed back to back (default: '
                        '--batches)')
    parser.add_argument('--steps', type=int, default=2,
                        help='timed steps after one warm-up (memory: 0 '
                        'runs one step, enough for the peak)')
    parser.add_argument('--memory', type=int, nargs=2,
                        metavar=('BATCH', 'CHECKPOINTING'),
                        help='(internal) one memory arm')
    parser.add_argument('--timing', type=int, help='(internal) one batch')
    parser.add_argument('--flops', action='store_true', help='(internal)')
    args = parser.parse_args()
    if args.memory:
        print(json.dumps(memory_arm(args.memory[0], bool(args.memory[1]),
                                    args.steps)))
        return
    if args.timing:
        print(json.dumps(timing(args.timing, args.steps)))
        return
    if args.flops:
        print(json.dumps(flops()))
        return
    steps = ['--steps', str(args.steps)]
    memory = {False: [], True: []}
    for batch in args.batches:
        for on in (False, True):
            memory[on].append(
                run('--memory', str(batch), str(int(on)), *steps))
            print(json.dumps(memory[on][-1]), flush=True)
    times = []
    for batch in args.timing_batches or args.batches:
        times.append(run('--timing', str(batch), *steps))
        print(json.dumps(times[-1]), flush=True)
    fitted = {('checkpointed' if on else 'plain'): fit(rows)
              for on, rows in memory.items()}
    write_result('activation_memory', dict(
        memory=memory[False] + memory[True],
        fit=fitted,
        step_time=times,
        batch_per_gpu=dict(
            estimate=True,
            formula='floor((0.9 * G - 1 GiB - fixed_on_gpu) / per_sample)',
            gpus_gib=list(GPUS_GIB),
            plain=batch_per_gpu(fitted['plain']),
            checkpointed=batch_per_gpu(fitted['checkpointed'])),
        steps=args.steps,
        flops=run('--flops'),
        proxy='CPU peak RSS (VmHWM) of a fresh process per arm'))


if __name__ == '__main__':
    main()
