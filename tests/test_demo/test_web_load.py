"""Several users on the web page at once: concurrent gradio_client callers
against the page served on loopback with a concurrency limit above 1."""
import hashlib
import os
import os.path as osp
import threading
from concurrent.futures import ThreadPoolExecutor

import cv2
import pytest
import torch

from demo.web_demo import EXAMPLES_DIR, build_app, launch
from projects.haris.apis import RefSegInferencer
from tests.e2e_utils import free_port

gr = pytest.importorskip('gradio')
gradio_client = pytest.importorskip('gradio_client')

pytestmark = [
    pytest.mark.filterwarnings('ignore::DeprecationWarning:gradio.*'),
    pytest.mark.filterwarnings('ignore:.*no_silent_downcasting'),
    pytest.mark.filterwarnings('ignore:The copy keyword is deprecated'),
    pytest.mark.filterwarnings('ignore:.*HTTP_422_UNPROCESSABLE_ENTITY'),
]
CALLERS = 3
CONCURRENCY = 3


def scene(i):
    return osp.join(EXAMPLES_DIR, f'shapes_{i}.png')


# (image, expressions, attention maps): several lines, attention maps on,
# bad input
REQUESTS = [
    (scene(1), 'the yellow triangle\nthe red circle\nthe green square', True),
    (scene(2), 'the small blue triangle\nthe red square', False),
    (None, 'the red circle', False),
    (scene(3), 'the red triangle', True),
    (scene(1), '  \n ', True),
]


def digest(path):
    """The decoded pixels of an image file (not its bytes)."""
    pixels = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    return pixels.shape, hashlib.sha256(pixels.tobytes()).hexdigest()


def ask(client, request, threshold):
    """One request's answer in comparable form: the error message, or the
    masks, table, status, attention figure and overlay labels."""
    image, text, attention = request
    image = None if image is None else gradio_client.handle_file(image)
    try:
        overlay, table, files, figure, status = client.predict(
            image, text, threshold, attention, api_name='/segment')
    except gradio_client.exceptions.AppError as err:
        return ('error', str(err))
    # the overlay's layers are drawn by gradio from the masks compared here
    return ('answer', [digest(f) for f in files],
            [tuple(row) for row in table['data']], status,
            figure and digest(figure),
            [a['label'] for a in overlay['annotations']])


def count_files(folder):
    return sum(len(files) for _, _, files in os.walk(folder))


class ForwardCounter:
    """The largest number of forward passes of ``module`` running at the
    same moment."""

    def __init__(self, module):
        self.lock = threading.Lock()
        self.active = self.most = 0
        module.register_forward_pre_hook(self.enter)
        module.register_forward_hook(self.leave)

    def enter(self, *args):
        with self.lock:
            self.active += 1
            self.most = max(self.most, self.active)

    def leave(self, *args):
        with self.lock:
            self.active -= 1


@pytest.fixture
def one_thread():
    """One intra-op thread for torch: the requests run side by side
    anyway, and on a busy machine a second thread mostly spins."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_adapters_are_merged_before_serving(page_model):
    inferencer = RefSegInferencer(page_model['config'],
                                  page_model['checkpoint'], device='cpu')
    assert not inferencer.model.backbone.adapters_merged
    build_app(inferencer)
    assert inferencer.model.backbone.adapters_merged


def test_concurrent_callers_get_the_sequential_answers(
        page_model, tmp_path, monkeypatch, one_thread):
    """Callers send mixed requests (several lines, attention maps on, bad
    input) at once; each answer must equal the one the same request got
    alone, the model must never run two requests at a time (the attention
    recorder hooks the shared neck), temporary files must not grow with
    the number of requests, and the server must still serve afterwards."""
    monkeypatch.setenv('GRADIO_TEMP_DIR', str(tmp_path / 'gradio'))
    monkeypatch.setattr('tempfile.tempdir', str(tmp_path / 'tmp'))
    os.makedirs(tmp_path / 'tmp')
    threshold = page_model['threshold']
    inferencer = RefSegInferencer(page_model['config'],
                                  page_model['checkpoint'], device='cpu')
    app = build_app(inferencer, examples=[])
    app.queue(default_concurrency_limit=CONCURRENCY)
    port = free_port()
    launch(app, '127.0.0.1', int(port), block=False)
    try:
        url = f'http://127.0.0.1:{port}/'
        downloads = str(tmp_path / 'downloads')

        def client():
            return gradio_client.Client(url, verbose=False,
                                        download_files=downloads)

        alone = client()
        expected = [ask(alone, r, threshold) for r in REQUESTS]
        kinds = [e[0] for e in expected]
        assert kinds.count('error') == 2 and 'answer' in kinds
        assert any(e[4] for e in expected if e[0] == 'answer')  # a figure
        files_after_one_pass = count_files(tmp_path / 'gradio') + \
            count_files(tmp_path / 'tmp')
        counter = ForwardCounter(inferencer.model.backbone)

        def caller(k):
            c = client()
            order = REQUESTS[k:] + REQUESTS[:k]  # each starts elsewhere
            return [(REQUESTS.index(r), ask(c, r, threshold))
                    for r in order]

        with ThreadPoolExecutor(CALLERS) as pool:
            answers = [a for got in pool.map(caller, range(CALLERS))
                       for a in got]
        assert len(answers) == CALLERS * len(REQUESTS)
        for i, answer in answers:
            assert answer == expected[i], REQUESTS[i]
        assert counter.most == 1
        assert count_files(tmp_path / 'gradio') + \
            count_files(tmp_path / 'tmp') == files_after_one_pass
        assert ask(alone, REQUESTS[0], threshold) == expected[0]
    finally:
        app.close()
