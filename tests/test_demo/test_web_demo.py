"""The web page: its rendering, its API through gradio_client against a
locally served app, and the page itself in headless Chromium."""
import os.path as osp
import shutil
import socket

import cv2
import numpy as np
import pytest

from projects.haris.apis import RefSegInferencer
from tests.test_demo.conftest import nontrivial

gr = pytest.importorskip('gradio')
gradio_client = pytest.importorskip('gradio_client')

from demo.web_demo import (EXAMPLES, EXAMPLES_DIR, NO_TARGET,  # noqa: E402
                           InputError, browse, build_app, check_image,
                           launch, parse_expressions, render)

# gradio's own use of deprecated numpy, pandas and starlette names
pytestmark = [
    pytest.mark.filterwarnings('ignore::DeprecationWarning:gradio.*'),
    pytest.mark.filterwarnings('ignore:.*no_silent_downcasting'),
    pytest.mark.filterwarnings('ignore:The copy keyword is deprecated'),
    pytest.mark.filterwarnings('ignore:.*HTTP_422_UNPROCESSABLE_ENTITY'),
]
EXAMPLE = osp.join(EXAMPLES_DIR, EXAMPLES[0][0])
MAX_SIDE = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture(scope='module')
def inferencer(page_model):
    return RefSegInferencer(page_model['config'], page_model['checkpoint'],
                            device='cpu')


@pytest.fixture(scope='module')
def served(inferencer):
    """The app on a free loopback port, closed after the module."""
    app = build_app(inferencer, max_side=MAX_SIDE)
    port = free_port()
    launch(app, '127.0.0.1', port, block=False)
    yield f'http://127.0.0.1:{port}/'
    app.close()


@pytest.fixture(scope='module')
def client(served):
    return gradio_client.Client(served, verbose=False)


def fake_result(mask, prob, text, **extra):
    return dict(mask=mask, prob=prob, text=text,
                score=float(prob[mask].mean()) if mask.any() else 0.,
                **extra)


def test_render_shows_no_target_plainly(tmp_path):
    image = np.zeros((6, 8, 3), np.uint8)
    prob = np.zeros((6, 8), np.float32)
    prob[1:3, 2:5] = 0.9
    found = fake_result(prob > 0.5, prob, 'the red circle')
    nothing = fake_result(prob > 0.5, prob, 'the purple cow',
                          no_target=True)
    (base, layers), rows, files = render(image, [found, nothing], 0.5,
                                         str(tmp_path))
    assert base is image
    assert [label for _, label in layers] == [
        '1: the red circle', f'2: the purple cow ({NO_TARGET})'
    ]
    assert layers[0][0].shape == (6, 8)
    np.testing.assert_array_equal(layers[0][0] > 0, prob > 0.5)
    assert not layers[1][0].any()  # nothing drawn for "no target"
    assert rows[0][4] == 'found' and rows[1][4] == NO_TARGET
    scored = fake_result(prob > 0.5, prob, 'x', no_target=True,
                         no_target_score=0.875)
    assert render(image, [scored], 0.5, str(tmp_path))[1][0][4] == \
        f'{NO_TARGET} (no-target p 0.88)'
    assert rows[1][2] == 0 and rows[1][3] == 0
    assert rows[0][2] == pytest.approx(0.9, abs=1e-3)
    assert cv2.imread(files[0], cv2.IMREAD_UNCHANGED).sum() == 6 * 255
    assert cv2.imread(files[1], cv2.IMREAD_UNCHANGED).sum() == 0


def test_render_rethresholds_the_probabilities(tmp_path):
    prob = np.array([[0.2, 0.4], [0.6, 0.8]], np.float32)
    result = fake_result(prob > 0.5, prob, 'x')
    (_, layers), rows, _ = render(np.zeros((2, 2, 3), np.uint8), [result],
                                  0.3, str(tmp_path))
    np.testing.assert_array_equal(layers[0][0] > 0, prob > 0.3)
    assert rows[0][2] == pytest.approx(0.6, abs=1e-3)  # mean of .4 .6 .8


def test_input_checks_name_the_problem():
    with pytest.raises(InputError, match='Upload an image'):
        check_image(None)
    with pytest.raises(InputError, match='at most 300 pixels a side'):
        check_image(np.zeros((10, 301, 3), np.uint8), 300)
    assert check_image(np.zeros((5, 7), np.uint8)).shape == (5, 7, 3)
    assert check_image(np.zeros((5, 7, 4), np.uint8)).shape == (5, 7, 3)
    with pytest.raises(InputError, match='at least one expression'):
        parse_expressions(' \n  \n')
    assert parse_expressions(' a dog \n\n the cat ') == ['a dog', 'the cat']
    with pytest.raises(InputError, match='17 expressions; give at most 16'):
        parse_expressions('\n'.join(['the cat'] * 17))


def masks_of(files):
    return [cv2.imread(f, cv2.IMREAD_UNCHANGED) > 0 for f in files]


def test_api_masks_equal_the_inferencers(client, inferencer, page_model):
    texts = ['the yellow triangle', 'the red circle', 'the green square']
    overlay, table, files, attention, status, = client.predict(
        gradio_client.handle_file(EXAMPLE), '\n'.join(texts) + '\n\n',
        page_model['threshold'], True, api_name='/segment')
    expected = inferencer(EXAMPLE, texts)
    assert nontrivial([r['mask'] for r in expected])
    got = masks_of(files)
    assert len(got) == len(expected) == 3
    for mask, result in zip(got, expected):
        assert mask.shape == result['mask'].shape == (96, 96)
        np.testing.assert_array_equal(mask, result['mask'])
    assert [row[1] for row in table['data']] == texts
    for row, result in zip(table['data'], expected):
        assert row[2] == pytest.approx(result['score'], abs=1e-3)
        assert row[3] == int(result['mask'].sum())
    assert [a['label'] for a in overlay['annotations']] == [
        f'{i}: {t}' for i, t in enumerate(texts, 1)
    ]
    assert cv2.imread(overlay['image']).shape[:2] == (96, 96)
    assert cv2.imread(attention) is not None
    assert '3 expression(s)' in status


def test_api_bad_input_gets_a_message_and_the_server_keeps_serving(
        client, tmp_path):
    AppError = gradio_client.exceptions.AppError
    example = gradio_client.handle_file(EXAMPLE)
    with pytest.raises(AppError, match='Upload an image first'):
        client.predict(None, 'the cat', 0.5, False, api_name='/segment')
    with pytest.raises(AppError, match='at least one expression'):
        client.predict(example, '   \n ', 0.5, False, api_name='/segment')
    cv2.imwrite(str(tmp_path / 'huge.png'),
                np.zeros((20, MAX_SIDE + 1, 3), np.uint8))
    with pytest.raises(AppError, match=f'at most {MAX_SIDE} pixels'):
        client.predict(
            gradio_client.handle_file(str(tmp_path / 'huge.png')), 'the cat',
            0.5, False, api_name='/segment')
    grey = np.random.default_rng(0).integers(0, 255, (40, 60), np.uint8)
    cv2.imwrite(str(tmp_path / 'grey.png'), grey)
    out = client.predict(
        gradio_client.handle_file(str(tmp_path / 'grey.png')),
        'the bright spot', 0.5, False, api_name='/segment')
    assert masks_of(out[2])[0].shape == (40, 60)


needs_chromium = pytest.mark.skipif(
    shutil.which('chromium') is None,
    reason='no chromium on PATH (.ci/run installs it)')


@needs_chromium
def test_page_in_a_real_browser(served, inferencer, tmp_path):
    """The page's masks are drawn where the inferencer's are: each layer
    is visible and has as many painted pixels as the mask, one of them
    neither empty nor the whole image."""
    pytest.importorskip('playwright')
    shot = str(tmp_path / 'page.png')
    texts = ['the red circle', 'the green square']
    seen = browse(served, EXAMPLE, '\n'.join(texts), screenshot=shot)
    assert seen['masks'] == 2
    assert seen['labels'] == ['1: the red circle', '2: the green square']
    expected = [r['mask'] for r in inferencer(EXAMPLE, texts)]
    assert nontrivial(expected)
    assert seen['visible'] == [True, True]
    assert seen['mask_pixels'] == [int(m.sum()) for m in expected]
    assert '2 expression(s) on a 96x96 image' in seen['status']
    page = cv2.imread(shot)
    assert page.shape[:2] == (760, 1100)
    # offline, nothing the page needs comes from outside: the only
    # request that leaves the machine is gradio's optional iframe-resizer
    # script (loaded async, for pages embedded in an iframe)
    assert all('iframe-resizer' in url for url in seen['external']), \
        seen['external']


@needs_chromium
def test_page_shows_bad_input_as_a_message(served):
    from playwright.sync_api import expect, sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which('chromium'), args=['--no-sandbox'])
        try:
            page = browser.new_page()
            page.set_default_timeout(60000)
            page.goto(served)
            # nothing given; the first answer also shows the page is live
            # (text typed while it still loads can be reset by it)
            page.click('#run')
            page.get_by_text('Upload an image first').wait_for()
            page.set_input_files('#image input[type=file]', EXAMPLE)
            page.wait_for_selector('#image img')  # the upload has landed
            page.click('#run')
            page.get_by_text('Type at least one expression').wait_for()
            assert 'Traceback' not in page.content()
            textarea = page.locator('#expressions textarea')
            textarea.fill('the red circle')
            expect(textarea).to_have_value('the red circle')
            page.click('#run')
            page.wait_for_selector('#overlay img.mask')
            assert page.locator('#overlay img.mask').count() == 1
        finally:
            browser.close()


def test_mask_layer_fills_lightly_and_outlines():
    from demo.web_demo import mask_layer
    mask = np.zeros((7, 7), bool)
    mask[1:6, 1:6] = True
    layer = mask_layer(mask, fill=0.4)
    assert (layer[~mask] == 0).all()
    assert (layer[2:5, 2:5] == np.float32(0.4)).all()  # inside
    ring = mask.copy()
    ring[2:5, 2:5] = False
    assert (layer[ring] == 1).all()  # the outline
