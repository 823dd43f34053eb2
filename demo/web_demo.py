"""A local web page for HARIS: an image, one expression per line, masks.

Example:
    python demo/web_demo.py configs/haris_synthetic.py \
        work_dirs/haris_synthetic/iter_3000.pth --port 7860
    python demo/web_demo.py --model owner/name  # or a model folder
then open http://127.0.0.1:7860. Needs the ``demo`` extra
(``pip install -e ".[demo]"``). The page is served on 127.0.0.1 unless
``--host`` says otherwise; it is never shared through a public link, and it
sends no analytics and fetches no fonts or scripts from the internet.

The sentences of one image go through the model together, so the image is
encoded once however many lines there are.

Several users: the model serves one request at a time (a lock around every
model call; its adapters are merged before the page is served), while the
rest of each request (decoding the upload, drawing, sending files) runs
concurrently up to gradio's concurrency limit (``--concurrency-limit``).
The page writes no per-request folders: its PNGs go to gradio's cache
under their content's hash, so a repeated answer adds no file.
"""
import argparse
import hashlib
import os
import os.path as osp
import re
import sys
import tempfile
import threading
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

EXAMPLES_DIR = osp.join(ROOT, 'demo', 'examples')
# (image, expressions) of the shipped synthetic scenes
EXAMPLES = [
    ('shapes_1.png', 'the yellow triangle\nthe red circle\nthe green square'),
    ('shapes_2.png', 'the small blue triangle\nthe red square'),
    ('shapes_3.png', 'the small red square\nthe red triangle'),
]
NO_TARGET = 'no target'
MAX_SIDE = 4096
MAX_EXPRESSIONS = 16
# system fonts only: the default theme would load its fonts from the web
FONTS = ['ui-sans-serif', 'system-ui', 'sans-serif']
MONO_FONTS = ['ui-monospace', 'Consolas', 'monospace']


class InputError(ValueError):
    """Input the page refuses, with a message for the person using it."""


def import_gradio():
    """gradio, with its usage analytics off (read when it is imported)."""
    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
    os.environ.setdefault('HF_HUB_DISABLE_TELEMETRY', '1')
    import gradio
    return gradio


def parse_expressions(text: Optional[str]) -> List[str]:
    """One expression per non-empty line."""
    lines = [line.strip() for line in (text or '').splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise InputError('Type at least one expression (one per line), '
                         'e.g. "the red circle".')
    if len(lines) > MAX_EXPRESSIONS:
        raise InputError(f'{len(lines)} expressions; give at most '
                         f'{MAX_EXPRESSIONS} at a time.')
    return lines


def check_image(image, max_side: int = MAX_SIDE) -> np.ndarray:
    """The page's image (the uploaded file's path, or an RGB array) as
    (H, W, 3) uint8 RGB, read as every entry point reads images
    (``read_image``: EXIF orientation applied once, grey, RGBA, palette
    and 16-bit converted); missing or oversized images are refused."""
    from projects.haris.datasets import read_image
    if image is None:
        raise InputError('Upload an image first (or click one of the '
                         'examples below).')
    try:  # an array keeps its channel order: RGB in, RGB out
        rgb = read_image(image, 'The uploaded image')
    except (OSError, ValueError) as err:
        raise InputError(str(err)) from err
    if not isinstance(image, np.ndarray):
        rgb = np.ascontiguousarray(rgb[..., ::-1])
    h, w = rgb.shape[:2]
    if max(h, w) > max_side:
        raise InputError(f'The image is {w}x{h} pixels; the page takes at '
                         f'most {max_side} pixels a side. Downscale it and '
                         'upload it again.')
    return rgb


def apply_threshold(result: dict, threshold: float) -> dict:
    """``result`` with its mask and score at another sigmoid threshold;
    a no-target result keeps an empty mask."""
    from projects.haris.models.segmentors.referring_postprocess import \
        mask_with_answer
    mask = mask_with_answer(result['prob'] > threshold,
                            result.get('no_target', False))
    score = float(result['prob'][mask].mean()) if mask.any() else 0.
    return dict(result, mask=mask, score=score)


def mask_layer(mask: np.ndarray, fill: float = 0.45) -> np.ndarray:
    """An overlay layer: the mask at ``fill`` opacity, its outline opaque
    (the page's colours are then still visible inside the mask)."""
    mask = mask.astype(np.uint8)
    inner = cv2.erode(mask, np.ones((3, 3), np.uint8), borderValue=0)
    layer = mask.astype(np.float32) * fill
    layer[(mask > 0) & (inner == 0)] = 1.
    return layer


def slug(text: str) -> str:
    return re.sub(r'[^a-z0-9]+', '-', text.lower()).strip('-')[:40] or 'mask'


def save_png(image: np.ndarray, name: str, cache_dir: str) -> str:
    """``image`` as the PNG file ``cache_dir/<sha256 of the PNG>/<name>``
    (gradio's cache layout); returns its path.

    The same picture always maps to the same file, written once
    (atomically) and then shared by every request that draws it: repeating
    a request adds no file, and a file being sent is never rewritten.
    """
    ok, png = cv2.imencode('.png', image)
    if not ok:
        raise ValueError(f'{name}: the image could not be encoded as PNG.')
    data = png.tobytes()
    folder = osp.join(cache_dir, hashlib.sha256(data).hexdigest())
    path = osp.join(folder, name)
    if not osp.isfile(path):
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix='.tmp', dir=folder)
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        os.replace(tmp, path)
    return path


def render(image: np.ndarray, results: Sequence[dict], threshold: float,
           out_dir: str) -> Tuple[tuple, list, List[str]]:
    """What the page shows for the results of one image.

    Args:
        image (np.ndarray): (H, W, 3) RGB.
        results (list[dict]): ``RefSegInferencer`` results, one per
            expression; ``no_target`` (bool) when the model says the
            expression names nothing in the image.
        threshold (float): Sigmoid threshold of the masks.
        out_dir (str): Where the mask PNGs are written (see
            :func:`save_png`; the page passes gradio's cache).

    Returns:
        tuple: the overlay value (image, [(layer, label), ...]) at the
        image's resolution (a layer is > 0 exactly on its mask), the table
        rows (#, expression, score, pixels, target) and the mask PNG paths
        (0/255, one per expression).
    """
    layers, rows, files = [], [], []
    for i, result in enumerate(results, 1):
        result = apply_threshold(result, threshold)
        no_target = bool(result.get('no_target', False))
        label = f'{i}: {result["text"]}'
        if no_target:
            label += f' ({NO_TARGET})'
        layers.append((mask_layer(result['mask']), label))
        pixels = int(result['mask'].sum())
        found = NO_TARGET if no_target else (
            'found' if pixels else 'empty mask')
        if result.get('no_target_score') is not None:
            found += f' (no-target p {result["no_target_score"]:.2f})'
        rows.append([i, result['text'], round(result['score'], 3), pixels,
                     found])
        files.append(
            save_png(result['mask'].astype(np.uint8) * 255,
                     f'mask_{i}_{slug(result["text"])}.png', out_dir))
    return (image, layers), rows, files


def attention_maps(inferencer, image_bgr: np.ndarray,
                   text: str) -> Tuple[Optional[dict], Optional[str]]:
    """The per-word attention of both HLA rounds for one expression
    (:func:`collect_attention`; it runs the model), or None and the reason
    when the model has none."""
    from projects.haris.apis import collect_attention
    try:
        return collect_attention(inferencer, image_bgr, text), None
    except (ValueError, AttributeError) as err:
        return None, f'No attention maps for this model: {err}'


def attention_figure(maps: dict, text: str, out_dir: str) -> str:
    """tools/analysis/visualize_attention.py's figure of ``maps``, as a
    PNG path (see :func:`save_png`)."""
    from projects.haris.apis import draw_attention_figure
    with tempfile.TemporaryDirectory(prefix='haris_demo_') as tmp:
        figure = draw_attention_figure(maps, osp.join(tmp, 'figure.png'))
    return save_png(figure, f'attention_{slug(text)}.png', out_dir)


TABLE_HEADERS = ['#', 'expression', 'score', 'pixels', 'target']


def merge_before_serving(inferencer) -> None:
    """Fold the adapters into the weights now if the inferencer would fold
    them at its first prediction (``merge_adapters=True``, its default):
    done lazily, two first requests could both merge."""
    model = inferencer.model
    if (model.test_cfg or {}).get('merge_adapters', False):
        model.merge_adapters()


def build_app(inferencer, max_side: int = MAX_SIDE, examples=EXAMPLES):
    """The page as a ``gradio.Blocks``, not launched.

    The inferencer is not thread-safe, so the page makes it safe: its
    adapters are merged here, before any request, and every call of the
    model (masks, attention maps) holds one lock, also when gradio runs
    several requests at once (a concurrency limit above 1): the attention
    recorder's hooks on the shared neck then see only their own request's
    forward pass. Reading the upload, drawing and sending files run
    outside the lock. Serve an inferencer through one page only.

    Args:
        inferencer (RefSegInferencer): A loaded model.
        max_side (int): Largest image side accepted, in pixels.
        examples (list): (image file in demo/examples, expressions) pairs.

    Returns:
        gradio.Blocks: launch it with :func:`launch`.
    """
    gr = import_gradio()
    merge_before_serving(inferencer)
    model_lock = threading.Lock()

    def segment(image, text, threshold, show_attention):
        try:
            rgb = check_image(image, max_side)
            texts = parse_expressions(text)
            bgr = np.ascontiguousarray(rgb[..., ::-1])
            with model_lock:  # one request in the model at a time
                results = inferencer(bgr, texts)
                maps, no_maps = attention_maps(
                    inferencer, bgr, texts[0]) if show_attention else (
                        None, None)
        except ValueError as err:  # InputError and the inferencer's
            raise gr.Error(str(err), duration=None, print_exception=False)
        overlay, rows, files = render(rgb, results, threshold, cache_dir)
        attention = None
        if maps is not None:
            attention = attention_figure(maps, texts[0], cache_dir)
        elif no_maps:
            gr.Warning(no_maps)
        status = (f'{len(texts)} expression(s) on a {rgb.shape[1]}x'
                  f'{rgb.shape[0]} image; the image was encoded once.')
        return overlay, rows, files, attention, status, (rgb, results)

    def rethreshold(state, threshold):
        if state is None:
            return gr.skip(), gr.skip(), gr.skip()
        rgb, results = state
        return render(rgb, results, threshold, cache_dir)

    first_threshold = float(
        getattr(inferencer.model.decode_head, 'threshold', 0.5))
    # gradio deletes the files of requests older than an hour, hourly, and
    # all of them when the page closes
    with gr.Blocks(title='HARIS referring segmentation',
                   analytics_enabled=False,
                   delete_cache=(3600, 3600)) as app:
        gr.Markdown('## HARIS: segment what a sentence refers to\n'
                    'Upload an image, type one expression per line, run. '
                    'Each expression gets its own mask.')
        with gr.Row():
            with gr.Column():
                # the file as uploaded: check_image reads it as every
                # entry point does (gradio would turn it upright itself
                # and clip 16-bit pixels)
                image = gr.Image(label='image', type='filepath',
                                 image_mode=None, format='png',
                                 sources=['upload'], elem_id='image')
                text = gr.Textbox(label='expressions, one per line',
                                  lines=3, placeholder='the red circle',
                                  elem_id='expressions')
                threshold = gr.Slider(0.05, 0.95, value=first_threshold,
                                      step=0.05,
                                      label='mask threshold (sigmoid)',
                                      elem_id='threshold')
                show_attention = gr.Checkbox(
                    label='attention maps of the first expression (both '
                    'HLA rounds)', value=False, elem_id='attention_toggle')
                run = gr.Button('Segment', variant='primary', elem_id='run')
            with gr.Column():
                overlay = gr.AnnotatedImage(label='masks', format='png',
                                            elem_id='overlay')
                status = gr.Markdown(elem_id='status')
                table = gr.Dataframe(headers=TABLE_HEADERS,
                                     label='expressions', interactive=False,
                                     elem_id='scores')
                files = gr.File(label='masks as PNG', file_count='multiple',
                                elem_id='mask_files')
                attention = gr.Image(label='attention (rows: words; '
                                     'round 1, round 2)', type='filepath',
                                     elem_id='attention')
        # the page's PNGs go straight to gradio's cache (see save_png)
        cache_dir = files.GRADIO_CACHE
        state = gr.State()
        if examples:
            gr.Examples([[osp.join(EXAMPLES_DIR, f), t] for f, t in examples],
                        inputs=[image, text])
        outputs = [overlay, table, files, attention, status, state]
        inputs = [image, text, threshold, show_attention]
        run.click(segment, inputs, outputs, api_name='segment')
        text.submit(segment, inputs, outputs, api_visibility='private')
        threshold.release(rethreshold, [state, threshold],
                          [overlay, table, files], api_visibility='private')
    return app


def launch(app,
           host: str = '127.0.0.1',
           port: Optional[int] = None,
           block: bool = True,
           concurrency_limit: Optional[int] = None):
    """Serve ``app`` locally: no public link, no API docs fetching from the
    web, uploads up to 20 MB.

    Args:
        concurrency_limit (int, optional): Requests of one kind that gradio
            runs at once (the model still runs one at a time, see
            :func:`build_app`). None keeps the queue as it is (gradio's
            default: 1, or ``GRADIO_DEFAULT_CONCURRENCY_LIMIT``).
    """
    gr = import_gradio()
    if concurrency_limit is not None:
        app.queue(default_concurrency_limit=concurrency_limit)
    return app.launch(
        server_name=host,
        server_port=port,
        share=False,
        prevent_thread_lock=not block,
        max_file_size='20mb',
        ssr_mode=False,
        theme=gr.themes.Default(font=FONTS, font_mono=MONO_FONTS),
        quiet=True)


# the overlay's mask layers, decoded by the browser
MASKS_LOADED = """() => [...document.querySelectorAll('#overlay img.mask')]
    .every(img => img.complete && img.naturalWidth > 0)"""
# pixels of each mask layer that are not transparent
PAINTED_PIXELS = """imgs => imgs.map(img => {
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const context = canvas.getContext('2d');
    context.drawImage(img, 0, 0);
    const rgba = context.getImageData(0, 0, canvas.width,
                                      canvas.height).data;
    let painted = 0;
    for (let i = 3; i < rgba.length; i += 4) painted += rgba[i] > 0;
    return painted;
})"""
LOOPBACK = ('http://127.0.0.1', 'http://localhost', 'http://[::1]', 'data:',
            'blob:')


def browse(url: str,
           image: str,
           text: str,
           screenshot: Optional[str] = None,
           timeout: float = 120.) -> dict:
    """Use the page at ``url`` in headless Chromium as a person would:
    upload ``image``, type ``text``, press Segment, wait for the masks.

    Every request that leaves the loopback address is refused, as on a
    machine without internet, and recorded. Needs ``playwright`` and a
    system Chromium (Debian: ``apt-get install chromium``).

    Returns:
        dict: ``masks`` (mask layers drawn over the image), ``visible``
        (whether each layer is shown), ``mask_pixels`` (each layer's
        painted pixels, counted in the browser), ``labels`` (the overlay's
        legend), ``status``, ``external`` (refused URLs).
    """
    import shutil

    from playwright.sync_api import sync_playwright
    chromium = shutil.which('chromium') or shutil.which('chromium-browser')
    if chromium is None:
        raise FileNotFoundError('No chromium on PATH; install it '
                                '(Debian: apt-get install chromium).')
    external = []

    def only_loopback(route):
        if route.request.url.startswith(LOOPBACK):
            route.continue_()
        else:
            external.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=['--no-sandbox'])
        try:
            page = browser.new_page(viewport=dict(width=1100, height=760))
            page.set_default_timeout(timeout * 1000)
            page.route('**/*', only_loopback)
            page.goto(url)
            page.set_input_files('#image input[type=file]', image)
            page.wait_for_selector('#image img')  # the upload has landed
            page.fill('#expressions textarea', text)
            page.click('#run')
            page.wait_for_selector('#overlay img.mask')
            page.wait_for_function(
                "document.querySelector('#status').innerText.trim() != ''")
            page.wait_for_function(MASKS_LOADED)
            layers = page.locator('#overlay img.mask')
            out = dict(
                masks=layers.count(),
                visible=[m.is_visible() for m in layers.all()],
                mask_pixels=layers.evaluate_all(PAINTED_PIXELS),
                labels=page.locator('#overlay .legend-item').all_inner_texts(),
                status=page.inner_text('#status').strip(),
                external=external)
            if screenshot:
                page.screenshot(path=screenshot)
        finally:
            browser.close()
    return out


def main(argv=None):
    from projects.haris.apis.model_source import (add_model_option,
                                                  build_inferencer,
                                                  check_model_arguments)
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?', help='model config')
    parser.add_argument('checkpoint', nargs='?',
                        help='checkpoint of tools/train.py')
    add_model_option(parser)
    parser.add_argument('--port', type=int, default=7860)
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to serve on (0.0.0.0 opens the page '
                        'to your network)')
    parser.add_argument('--device', default=None, help='cpu or cuda[:N]')
    parser.add_argument('--max-side', type=int, default=MAX_SIDE,
                        help='largest image side accepted, in pixels')
    parser.add_argument(
        '--concurrency-limit', type=int, default=None, metavar='N',
        help='requests gradio handles at once (default: gradio\'s, 1); '
        'the model itself runs one request at a time')
    parser.add_argument(
        '--screenshot', metavar='PNG', help='instead of serving: run the '
        'first example in headless Chromium and save the page as PNG')
    args = parser.parse_args(argv)
    check_model_arguments(parser, args)
    try:
        import_gradio()
    except ImportError:
        sys.exit('The web page needs gradio: pip install -e ".[demo]"')
    try:
        inferencer = build_inferencer(args)
    except (ValueError, FileNotFoundError) as err:
        sys.exit(str(err))
    app = build_app(inferencer, args.max_side)
    if args.screenshot:
        launch(app, args.host, args.port, block=False,
               concurrency_limit=args.concurrency_limit)
        try:
            image, text = EXAMPLES[0]
            seen = browse(f'http://{args.host}:{args.port}/',
                          osp.join(EXAMPLES_DIR, image), text,
                          screenshot=args.screenshot)
        finally:
            app.close()
        from PIL import Image  # 256 colours: a small PNG for the docs
        Image.open(args.screenshot).convert('RGB').quantize(256).save(
            args.screenshot, optimize=True)
        print(f'{args.screenshot}: {seen["masks"]} masks '
              f'{seen["labels"]}')
        return
    print(f'Serving on http://{args.host}:{args.port} (Ctrl+C stops)')
    launch(app, args.host, args.port,
           concurrency_limit=args.concurrency_limit)


if __name__ == '__main__':
    main()
