"""Requests per second and latency of the web page with several callers.

The page (``demo/web_demo.py``) serves the demo model
(``configs/haris_synthetic.py``; random weights unless ``--checkpoint``)
on a free loopback port. For each gradio concurrency limit in
``--concurrency``, ``--callers`` ``gradio_client`` clients each send
``--requests`` requests at once: the shipped scenes with their two or
three expressions, the attention maps of the first expression on every
third request. A request's latency is one ``client.predict`` call as a
program sees it: upload, queue, model, drawing and the download of the
answer's files. One warm-up request per caller comes first.

Usage: python benchmarks/web_load.py [--checkpoint CKPT] [--callers 4]
       [--requests 12] [--concurrency 1 4] [--name web_load]
"""
import argparse
import os
import os.path as osp
import statistics
import tempfile
import threading
import time

from common import ROOT, torch, write_result

os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')

from demo.web_demo import (EXAMPLES, EXAMPLES_DIR, build_app,  # noqa: E402
                           launch)
from projects.haris.apis import RefSegInferencer  # noqa: E402


def workload(n):
    """``n`` requests: (image, expressions, attention maps)."""
    out = []
    for i in range(n):
        image, text = EXAMPLES[i % len(EXAMPLES)]
        out.append((osp.join(EXAMPLES_DIR, image), text, i % 3 == 0))
    return out


def free_port():
    import socket
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def percentile(values, q):
    """The q-th percentile, linear between the closest ranks."""
    values = sorted(values)
    pos = (len(values) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (pos - low)


def run(inferencer, concurrency, callers, requests, downloads):
    """Serve the page with ``concurrency`` and time the callers."""
    from gradio_client import Client, handle_file
    app = build_app(inferencer, examples=[])
    app.queue(default_concurrency_limit=concurrency)
    port = free_port()
    launch(app, '127.0.0.1', port, block=False)
    try:
        url = f'http://127.0.0.1:{port}/'
        clients = [
            Client(url, verbose=False, download_files=downloads)
            for _ in range(callers)
        ]
        threshold = float(inferencer.model.decode_head.threshold)
        latencies = []
        lock = threading.Lock()
        start_together = threading.Barrier(callers + 1)

        def caller(client, warm_up):
            todo = workload(requests)
            image, text, attention = todo[0]
            client.predict(handle_file(image), text, threshold, attention,
                           api_name='/segment')
            warm_up.wait()
            for image, text, attention in todo:
                start = time.perf_counter()
                client.predict(handle_file(image), text, threshold,
                               attention, api_name='/segment')
                with lock:
                    latencies.append(time.perf_counter() - start)

        threads = [
            threading.Thread(target=caller, args=(c, start_together))
            for c in clients
        ]
        for thread in threads:
            thread.start()
        start_together.wait()  # every caller has warmed up
        start = time.perf_counter()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - start
    finally:
        app.close()
    return dict(
        load_average=os.getloadavg()[0],  # other jobs on the machine
        concurrency_limit=concurrency,
        callers=callers,
        requests=len(latencies),
        wall_s=round(wall, 2),
        requests_per_s=round(len(latencies) / wall, 2),
        latency_p50_s=round(percentile(latencies, 50), 3),
        latency_p95_s=round(percentile(latencies, 95), 3),
        latency_mean_s=round(statistics.mean(latencies), 3))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config',
                        default=osp.join(ROOT, 'configs',
                                         'haris_synthetic.py'))
    parser.add_argument('--checkpoint', default=None)
    parser.add_argument('--callers', type=int, default=4)
    parser.add_argument('--requests', type=int, default=12,
                        help='requests per caller')
    parser.add_argument('--concurrency', type=int, nargs='+',
                        default=[1, 4])
    parser.add_argument('--name', default='web_load')
    args = parser.parse_args()
    torch.manual_seed(0)
    inferencer = RefSegInferencer(args.config, args.checkpoint,
                                  device='cpu')
    rows = []
    with tempfile.TemporaryDirectory() as downloads:
        for concurrency in args.concurrency:
            rows.append(run(inferencer, concurrency, args.callers,
                            args.requests, downloads))
            print(rows[-1])
    write_result(args.name, dict(
        config=osp.relpath(args.config, ROOT),
        checkpoint=args.checkpoint,
        workload='shipped scenes, 2-3 expressions each, attention maps '
        'on every third request',
        cpus=os.cpu_count(),
        runs=rows))


if __name__ == '__main__':
    main()
