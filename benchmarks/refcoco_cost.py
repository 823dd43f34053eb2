"""What a RefCOCO run costs on GPUs: an estimate built from the measured
FLOPs per sample, the grouped-training factor, the data-loading rate and the
memory table (no GPU was used).

Inputs (run first):
- ``activation_memory.json`` (``benchmarks/activation_memory.py``): training
  FLOPs per sample of the paper model (forward + backward as run) and the
  batch per GPU that fits;
- ``grouped_training.json`` (``benchmarks/grouped_training.py``): time per
  ref with an image's refs batched together, over one vision pass per ref;
- ``refcoco_scale_data.json`` (``benchmarks/refcoco_scale_data.py``): the
  RefCOCO-sized pipeline's samples/s per dataloader worker (CPU).

Formula, per epoch of RefCOCO train (42,404 refs):
  compute_s = refs * flops_per_ref * grouped / (gpus * peak * utilisation)
  loading_s = refs / (gpus * workers_per_gpu * samples_per_worker_s)
  epoch_s = max(compute_s, loading_s)
with peak the GPU's dense throughput at the run's precision: mixed
precision (the RefCOCO configs' ``AmpOptimWrapper``, 16-bit tensor cores)
A100 312, H100 SXM 989 TFLOP/s; fp32 (``optim_wrapper.type=OptimWrapper``;
torch leaves TF32 matmuls off) A100 19.5, H100 SXM 67 TFLOP/s. Validation (RefCOCO val, 10,834 sentences, forward only, each
image once) is added per epoch: max(its FLOPs / throughput, its loading).
Usage: python benchmarks/refcoco_cost.py [--utilisation 0.35] [--gpus 4]
       [--workers 4] [--epochs 50]
"""
import argparse
import json
import os.path as osp

from common import RESULTS, write_result

PEAK_TFLOPS = {
    'A100': dict(fp32=19.5, amp=312.0),
    'H100': dict(fp32=67.0, amp=989.0)
}
TRAIN_REFS = 42404
VAL_SENTENCES, VAL_IMAGES = 10834, 1500


def load(name):
    path = osp.join(RESULTS, f'{name}.json')
    if not osp.isfile(path):
        raise SystemExit(f'{path} is missing: run benchmarks/{name}.py '
                         'first.')
    with open(path) as f:
        return json.load(f)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--utilisation', type=float, default=0.35)
    parser.add_argument('--gpus', type=int, default=4)
    parser.add_argument('--workers', type=int, default=4,
                        help='dataloader workers per GPU (the configs: 4)')
    parser.add_argument('--epochs', type=int, default=50)
    args = parser.parse_args()
    memory, grouped, data = (load('activation_memory'),
                             load('grouped_training'),
                             load('refcoco_scale_data'))
    flops = memory['flops']
    train_flops = flops['training_gflops_measured'] * 1e9
    forward = flops['plain']['forward_gflops'] * 1e9
    by_part = flops['plain']['forward_by_part_gflops']
    # evaluation encodes each image once: the backbone part is shared
    val_flops = (VAL_IMAGES * by_part['backbone'] + VAL_SENTENCES *
                 (by_part['neck'] + by_part['decode_head'])) * 1e9
    factor = grouped['time_per_ref_grouped_over_per_ref']
    # measured on a loaded 2-core machine: a lower bound of a GPU host's
    per_worker = data['loading']['train']['samples_per_second_per_worker']
    rows = {}
    loaders = args.gpus * args.workers * per_worker
    loading, val_loading = TRAIN_REFS / loaders, VAL_SENTENCES / loaders
    for gpu, peaks in PEAK_TFLOPS.items():
        for precision, tflops in peaks.items():
            rate = args.gpus * tflops * 1e12 * args.utilisation
            val = max(val_flops / rate, val_loading)
            row = {}
            for name, f in (('per_ref', 1.0), ('grouped', factor)):
                compute = TRAIN_REFS * train_flops * f / rate
                epoch = max(compute, loading) + val
                row[name] = dict(
                    compute_s=round(compute, 1), loading_s=round(loading, 1),
                    val_s=round(val, 1), epoch_min=round(epoch / 60, 2),
                    run_h=round(epoch * args.epochs / 3600, 2))
            rows[f'{gpu} {precision}'] = row
    write_result('refcoco_cost', dict(
        estimate=True, gpus=args.gpus, utilisation=args.utilisation,
        workers_per_gpu=args.workers, epochs=args.epochs,
        train_refs=TRAIN_REFS, training_gflops_per_ref=round(
            train_flops / 1e9, 2), forward_gflops_per_ref=round(
                forward / 1e9, 2), grouped_factor=factor,
        loading_samples_per_s_per_worker=per_worker,
        peak_tflops_dense=PEAK_TFLOPS,
        batch_per_gpu=memory.get('batch_per_gpu'), estimates=rows))


if __name__ == '__main__':
    main()
