import torch

from mmseg.registry import MODELS
from tests.tiny_models import TINY_CLIP
from tools.clip_pretraining.caption_retrieval import (CaptionRetrieval,
                                                      tokenize)

MEAN, STD = [122.771, 116.746, 104.094], [68.501, 66.632, 70.323]


def retrieval():
    return CaptionRetrieval(96, 32, MEAN, STD, context_length=16)


def test_accuracy_is_top1_of_the_logits():
    task = retrieval()
    backbone = MODELS.build(dict(type='HFCLIPBackbone', clip_config=TINY_CLIP,
                                 out_indices=(1, 2), peft_cfg=None))
    logits = task.logits(backbone.clip)
    assert logits.shape == (96, 96)
    assert logits.abs().max() <= 1 + 1e-5  # cosine similarities
    expected = (logits.argmax(1) == torch.arange(96)).float().mean() * 100
    assert task.accuracy(backbone.clip) == round(expected.item(), 2)


def test_disabled_adapters_give_the_original_model_and_merge_keeps_them():
    task = retrieval()
    torch.manual_seed(1)
    original = MODELS.build(dict(type='HFCLIPBackbone', clip_config=TINY_CLIP,
                                 out_indices=(1, 2), peft_cfg=None))
    torch.manual_seed(1)  # the same CLIP weights, then adapters
    adapted = MODELS.build(dict(type='HFCLIPBackbone', clip_config=TINY_CLIP,
                                out_indices=(1, 2)))
    with torch.no_grad():  # as if trained: LoRA B is zero at init
        for name, p in adapted.named_parameters():
            if 'lora_B' in name:
                p.normal_(0, 0.5)
    before = task.logits(original.clip)
    with_adapters = task.logits(adapted.clip)
    assert (with_adapters - before).abs().max() > 1e-3
    adapted.set_adapters_enabled(False)
    assert torch.equal(task.logits(adapted.clip), before)
    adapted.set_adapters_enabled(True)
    adapted.merge_adapters()
    torch.testing.assert_close(task.logits(adapted.clip), with_adapters,
                               atol=1e-5, rtol=1e-4)


# The captions, written here: 'a {size} {colour} {shape} at the {quadrant}'.
COLOURS = {'red': (220, 40, 40), 'green': (40, 170, 60),
           'blue': (40, 80, 220), 'yellow': (230, 200, 30)}  # RGB
CAPTIONS = [f'a {size} {colour} {shape} at the {v} {h}'
            for size in ('small', 'large') for colour in COLOURS
            for shape in ('circle', 'square', 'triangle')
            for v in ('top', 'bottom') for h in ('left', 'right')]


class OracleCLIP(torch.nn.Module):
    """A stand-in CLIP whose embeddings make the right answer known.

    A caption's text embedding is ``(k + 1) * e_k``, k its index in
    ``CAPTIONS`` (found by its tokens), so lengths differ and only a
    cosine ranks them fairly. An image's embedding is ``e_k + 0.5 e_j``:
    k the caption the image shows, read from its pixels (the colour, the
    bounding box's side for the size, its fill for the shape, its centre
    for the quadrant), j another caption. Images of ``confuse`` colour are
    "misread": k and j swap, so they score wrong.
    """

    def __init__(self, mean, std, size, confuse='green'):
        super().__init__()
        self.mean = torch.tensor(mean).view(1, 3, 1, 1)
        self.std = torch.tensor(std).view(1, 3, 1, 1)
        self.size, self.confuse = size, confuse
        self.token_rows = tokenize(CAPTIONS, 16)['input_ids']
        self.read = []  # caption index read from each image, in order

    def get_text_features(self, input_ids, attention_mask):
        rows = [next(k for k, r in enumerate(self.token_rows)
                     if torch.equal(r, ids)) for ids in input_ids]
        return torch.stack([(k + 1.0) * torch.eye(96)[k] for k in rows])

    def caption_of(self, rgb):
        for colour, value in COLOURS.items():
            ys, xs = torch.nonzero(
                ((rgb - torch.tensor(value)[:, None, None]).abs() < 1)
                .all(0), as_tuple=True)
            if len(xs):
                break
        side = int(xs.max() - xs.min()) + 1
        size = 'small' if side < 0.25 * self.size else 'large'
        fill = len(xs) / side**2
        shape = ('triangle' if fill < 0.6 else
                 'circle' if fill < 0.9 else 'square')
        # the bounding box's centre is the shape's centre
        v = 'top' if ys.min() + ys.max() < self.size else 'bottom'
        h = 'left' if xs.min() + xs.max() < self.size else 'right'
        return CAPTIONS.index(f'a {size} {colour} {shape} at the {v} {h}')

    def get_image_features(self, pixel_values):
        rgb = (pixel_values * self.std + self.mean).round()
        out = []
        for image in rgb:
            k = self.caption_of(image)
            self.read.append(k)
            j = (k + 48) % 96
            if CAPTIONS[k].split()[2] == self.confuse:
                k, j = j, k
            out.append(torch.eye(96)[k] + 0.5 * torch.eye(96)[j])
        return torch.stack(out)


def test_accuracy_with_an_oracle_model():
    task = CaptionRetrieval(96, 96, MEAN, STD, context_length=16)
    oracle = OracleCLIP(MEAN, STD, 96)
    logits = task.logits(oracle, batch_size=40)  # three chunks
    # every image read as the caption it was drawn for, each caption once
    assert oracle.read == task.labels.tolist()
    assert sorted(oracle.read) == list(range(96))
    # cosines by hand: 1 / |(1, 0.5)| with the right caption for all but
    # the green images (24 of 96), which prefer caption k + 48
    expected = torch.zeros(96, 96)
    for i, k in enumerate(oracle.read):
        j = (k + 48) % 96
        if 'green' in CAPTIONS[k]:
            k, j = j, k
        expected[i, k], expected[i, j] = 1 / 1.25**0.5, 0.5 / 1.25**0.5
    torch.testing.assert_close(logits, expected)
    assert task.accuracy(oracle) == 75.0
    oracle.confuse = None
    assert task.accuracy(oracle) == 100.0
