"""ONNX Runtime latency / PyTorch latency of the exported network.

Paper-scale model (configs/haris_refcoco.py: CLIP ViT-B/16 + text, LoRA
merged, D=256), random weights (LoRA B drawn as if trained), CPU, one
process. Both arms run the same function, the exported network
``(image, token_ids, token_mask) -> mask logits at 1/4``, one image per
sentence, 10-word sentences padded to 22 tokens:

- PyTorch: ``ReferringOnnxModel`` (the export wrapper) under
  ``torch.no_grad``, adapters merged, torch's intra-op threads.
- ONNX Runtime: the file ``tools/deployment/export_onnx.py`` writes, CPU
  execution provider, as many intra-op threads as torch uses.

The arms alternate within each round (round 0 warms up), so machine noise
hits both; the ratio is the median of the per-round ratios. The export is
checked at the benchmark's size first (max |logit difference|, IoU of the
binarised masks).
Usage: python benchmarks/onnx_latency.py [--repeats 5] [--batches 1 4]
       [--size 416]
"""
import argparse
import os.path as osp
import statistics
import tempfile
import time

from common import median_time, paper_model, text_batch, torch, write_result

from tools.deployment.export_onnx import (INPUT_NAMES, ReferringOnnxModel,
                                          compare, export_onnx)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--batches', type=int, nargs='+', default=[1, 4])
    parser.add_argument('--size', type=int, default=416)
    parser.add_argument('--name', default='onnx_latency')
    args = parser.parse_args()
    import onnxruntime as ort

    torch.manual_seed(0)
    model = paper_model(args.size).eval()
    with torch.no_grad():  # adapters as if trained (LoRA B starts at 0)
        for name, p in model.named_parameters():
            if 'lora_B' in name:
                p.normal_(0, 0.01)
    model.merge_adapters()
    wrapper = ReferringOnnxModel(model).eval()
    size = (args.size, args.size)
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, 'haris.onnx')
        start = time.perf_counter()
        export_onnx(model, path, size)
        export_s = time.perf_counter() - start
        file_mb = osp.getsize(path) / 2**20
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        session = ort.InferenceSession(
            path, options, providers=['CPUExecutionProvider'])
        rows = []
        for batch in args.batches:
            image = torch.randn(batch, 3, *size)
            ids, mask = text_batch(batch, length=22, words=10)
            parity = compare(model, path, (image, ids, mask))
            feed = dict(zip(INPUT_NAMES, (image.numpy(), ids.numpy(),
                                          mask.numpy())))

            def run_torch():
                with torch.no_grad():
                    wrapper(image, ids, mask)

            def run_ort():
                session.run(None, feed)

            rounds = []
            for _ in range(args.repeats + 1):
                rounds.append((median_time(run_torch, 1, warmup=0),
                               median_time(run_ort, 1, warmup=0)))
            rounds = rounds[1:]
            rows.append(dict(
                batch=batch,
                pytorch_s=round(statistics.median(r[0] for r in rounds), 4),
                onnxruntime_s=round(
                    statistics.median(r[1] for r in rounds), 4),
                ratio_ort_over_pytorch=round(
                    statistics.median(r[1] / r[0] for r in rounds), 4),
                max_abs_logit_diff=parity['mask_logits_max_abs_diff'],
                mask_iou=parity['mask_iou']))
            print(rows[-1], flush=True)
    write_result(args.name, dict(
        rows=rows, size=args.size, words=10, text_length=22,
        repeats=args.repeats, export_s=round(export_s, 1),
        onnx_mb=round(file_mb, 1), onnxruntime=ort.__version__,
        model='configs/haris_refcoco.py architecture, random weights, '
        'LoRA merged'))


if __name__ == '__main__':
    main()
