"""A local web page for HARIS: an image, one expression per line, masks.

Example:
    python demo/web_demo.py configs/haris_synthetic.py \
        work_dirs/haris_synthetic/iter_3000.pth --port 7860
then open http://127.0.0.1:7860. Needs the ``demo`` extra
(``pip install -e ".[demo]"``). The page is served on 127.0.0.1 unless
``--host`` says otherwise; it is never shared through a public link, and it
sends no analytics and fetches no fonts or scripts from the internet.

The sentences of one image go through the model together, so the image is
encoded once however many lines there are.
"""
import argparse
import os
import os.path as osp
import re
import sys
import tempfile
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
    if result.get('no_target', False):
        mask = np.zeros_like(result['mask'])
    else:  # as the model thresholds: the same mask at its own threshold
        mask = result['prob'] > threshold
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


def render(image: np.ndarray, results: Sequence[dict], threshold: float,
           out_dir: str) -> Tuple[tuple, list, List[str]]:
    """What the page shows for the results of one image.

    Args:
        image (np.ndarray): (H, W, 3) RGB.
        results (list[dict]): ``RefSegInferencer`` results, one per
            expression; ``no_target`` (bool) when the model says the
            expression names nothing in the image.
        threshold (float): Sigmoid threshold of the masks.
        out_dir (str): Where the mask PNGs are written.

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
        path = osp.join(out_dir, f'mask_{i}_{slug(result["text"])}.png')
        cv2.imwrite(path, result['mask'].astype(np.uint8) * 255)
        files.append(path)
    return (image, layers), rows, files


def attention_figure(inferencer, image_bgr: np.ndarray, text: str,
                     out_dir: str) -> str:
    """The per-word attention of both HLA rounds for one expression
    (tools/analysis/visualize_attention.py's figure), as a PNG path."""
    from projects.haris.apis import collect_attention, draw_attention_figure
    path = osp.join(out_dir, f'attention_{slug(text)}.png')
    draw_attention_figure(collect_attention(inferencer, image_bgr, text),
                          path)
    return path


TABLE_HEADERS = ['#', 'expression', 'score', 'pixels', 'target']


def build_app(inferencer, max_side: int = MAX_SIDE, examples=EXAMPLES):
    """The page as a ``gradio.Blocks``, not launched.

    Args:
        inferencer (RefSegInferencer): A loaded model.
        max_side (int): Largest image side accepted, in pixels.
        examples (list): (image file in demo/examples, expressions) pairs.

    Returns:
        gradio.Blocks: launch it with ``.launch(server_name='127.0.0.1')``.
    """
    gr = import_gradio()

    def segment(image, text, threshold, show_attention):
        try:
            rgb = check_image(image, max_side)
            texts = parse_expressions(text)
            results = inferencer(np.ascontiguousarray(rgb[..., ::-1]), texts)
        except ValueError as err:  # InputError and the inferencer's
            raise gr.Error(str(err), duration=None, print_exception=False)
        out_dir = tempfile.mkdtemp(prefix='haris_demo_')
        overlay, rows, files = render(rgb, results, threshold, out_dir)
        attention = None
        if show_attention:
            try:
                attention = attention_figure(
                    inferencer, np.ascontiguousarray(rgb[..., ::-1]),
                    texts[0], out_dir)
            except (ValueError, AttributeError) as err:
                gr.Warning(f'No attention maps for this model: {err}')
        status = (f'{len(texts)} expression(s) on a {rgb.shape[1]}x'
                  f'{rgb.shape[0]} image; the image was encoded once.')
        return overlay, rows, files, attention, status, (rgb, results)

    def rethreshold(state, threshold):
        if state is None:
            return gr.skip(), gr.skip(), gr.skip()
        rgb, results = state
        overlay, rows, files = render(rgb, results, threshold,
                                      tempfile.mkdtemp(prefix='haris_demo_'))
        return overlay, rows, files

    first_threshold = float(
        getattr(inferencer.model.decode_head, 'threshold', 0.5))
    with gr.Blocks(title='HARIS referring segmentation',
                   analytics_enabled=False) as app:
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


def launch(app, host: str = '127.0.0.1', port: Optional[int] = None,
           block: bool = True):
    """Serve ``app`` locally: no public link, no API docs fetching from the
    web, uploads up to 20 MB."""
    gr = import_gradio()
    return app.launch(
        server_name=host,
        server_port=port,
        share=False,
        prevent_thread_lock=not block,
        max_file_size='20mb',
        ssr_mode=False,
        theme=gr.themes.Default(font=FONTS, font_mono=MONO_FONTS),
        quiet=True)


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
        dict: ``masks`` (mask layers drawn over the image), ``labels``
        (the overlay's legend), ``status``, ``external`` (refused URLs).
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
            out = dict(
                masks=page.locator('#overlay img.mask').count(),
                labels=page.locator('#overlay .legend-item').all_inner_texts(),
                status=page.inner_text('#status').strip(),
                external=external)
            if screenshot:
                page.screenshot(path=screenshot)
        finally:
            browser.close()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='model config')
    parser.add_argument('checkpoint', help='checkpoint of tools/train.py')
    parser.add_argument('--port', type=int, default=7860)
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to serve on (0.0.0.0 opens the page '
                        'to your network)')
    parser.add_argument('--device', default=None, help='cpu or cuda[:N]')
    parser.add_argument('--max-side', type=int, default=MAX_SIDE,
                        help='largest image side accepted, in pixels')
    parser.add_argument(
        '--screenshot', metavar='PNG', help='instead of serving: run the '
        'first example in headless Chromium and save the page as PNG')
    args = parser.parse_args()
    for path, what in ((args.config, 'Config'), (args.checkpoint,
                                                 'Checkpoint')):
        if not osp.isfile(path):
            sys.exit(f'{what} {path} not found.')
    try:
        import_gradio()
    except ImportError:
        sys.exit('The web page needs gradio: pip install -e ".[demo]"')
    from projects.haris.apis import RefSegInferencer
    inferencer = RefSegInferencer(args.config, args.checkpoint, args.device)
    app = build_app(inferencer, args.max_side)
    if args.screenshot:
        launch(app, args.host, args.port, block=False)
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
    launch(app, args.host, args.port)


if __name__ == '__main__':
    main()
