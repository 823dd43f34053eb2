"""collect_attention reads words with the tokenizer the inferencer already
holds instead of building one per call, and names a level the neck does
not fuse with the text."""
import numpy as np
import pytest
from mmengine.config import Config

from projects.haris.apis import RefSegInferencer, attention_maps
from tests.tiny_models import tiny_model_cfg


class CountingTokenizer(attention_maps.SimpleTokenizer):
    built = 0

    def __init__(self, *args, **kwargs):
        type(self).built += 1
        super().__init__(*args, **kwargs)


def test_no_tokenizer_built_per_call(monkeypatch):
    cfg = Config.fromfile('configs/haris_synthetic.py')
    cfg.model = tiny_model_cfg()
    inferencer = RefSegInferencer(cfg, checkpoint=None, device='cpu')
    monkeypatch.setattr(attention_maps, 'SimpleTokenizer', CountingTokenizer)
    attention_maps.clip_bpe_decoder.cache_clear()
    img = np.random.randint(0, 255, (32, 48, 3), np.uint8)
    for text, words in (('the red circle', ['the', 'red', 'circle']),
                        ('blue square', ['blue', 'square'])):
        att = attention_maps.collect_attention(inferencer, img, text)
        assert att['words'] == ['<start_of_text>', *words, '<end_of_text>']
    assert CountingTokenizer.built == 0  # the pipeline's tokenizer serves
    # without an inferencer's tokenizer, one is built for the process
    ids = np.array([49406, 736, 49407, 0])
    real = np.array([1, 1, 1, 0], bool)
    for _ in range(2):
        assert attention_maps.token_words(ids, real) == [
            '<start_of_text>', 'red', '<end_of_text>']
    assert CountingTokenizer.built == 1
    attention_maps.clip_bpe_decoder.cache_clear()


def test_unfused_level_is_named():
    cfg = Config.fromfile('configs/haris_synthetic.py')
    cfg.model = tiny_model_cfg()
    cfg.model.neck.text_levels = 1
    inferencer = RefSegInferencer(cfg, checkpoint=None, device='cpu')
    img = np.random.randint(0, 255, (32, 48, 3), np.uint8)
    att = attention_maps.collect_attention(inferencer, img, 'red', level=2)
    assert att['round1'].shape[0] == 3  # <start>, red, <end>
    with pytest.raises(ValueError, match='level 0 is not fused'):
        attention_maps.collect_attention(inferencer, img, 'red', level=0)
