"""Our token ids against HuggingFace's CLIPTokenizer on one BPE vocabulary.

``TokenizeExpression`` uses OpenAI's CLIP BPE tokenizer as shipped with
mmseg (``bpe_simple_vocab_16e6.txt.gz``). The reference is
``transformers.CLIPTokenizer`` (the slow one: ftfy clean-up, whitespace
collapse, lower case, then byte-level BPE, as OpenAI's CLIP was trained
with), built offline from the same merges file, with the vocabulary
written here from CLIP's definition: the 256 byte symbols, the same with
'</w>', one token per merge, then the start and end tokens.
"""
import gzip
import json

import numpy as np
import pytest
from transformers import CLIPTokenizer
from transformers.models.clip.tokenization_clip import bytes_to_unicode

from mmseg.utils.tokenizer import default_bpe
from projects.haris.datasets.transforms import TokenizeExpression

NUM_MERGES = 49152 - 256 - 2  # CLIP's vocabulary is 49408 tokens

SENTENCES = [
    'the man on the left',
    'The Man On The LEFT, wearing a red shirt!',  # upper case, punctuation
    "it's the one that'll move; (maybe) the 2nd?",
    'guy   in the\tmiddle \n ',  # extra and odd whitespace
    '  leading and trailing spaces  ',
    'café crème brûlée near the naïve señor',  # accents
    'dog 🐶 next to the 猫 and the 犬',  # emoji, CJK
    # curly quote, ligature, full-width letters (ftfy's NFKC)
    'don’t pick the ﬁsh in ＦＵＬＬ width',
    'tom &amp; jerry',  # HTML entity
    'straße İstanbul',  # case mapping outside ASCII
    'zebra 12345 apples',  # digits are split one by one
    ' '.join(['the small red circle to the left of the big blue square'] *
             3),  # longer than the context: truncated
]


@pytest.fixture(scope='module')
def hf_tokenizer(tmp_path_factory):
    """Slow CLIPTokenizer on mmseg's BPE merges and CLIP's vocabulary."""
    root = tmp_path_factory.mktemp('clip_bpe')
    merges_text = gzip.open(default_bpe()).read().decode('utf-8')
    merges = merges_text.split('\n')[1:NUM_MERGES + 1]
    symbols = list(bytes_to_unicode().values())
    vocab = symbols + [s + '</w>' for s in symbols]
    vocab += [''.join(m.split()) for m in merges]
    vocab += ['<|startoftext|>', '<|endoftext|>']
    assert len(vocab) == 49408
    (root / 'vocab.json').write_text(
        json.dumps({tok: i for i, tok in enumerate(vocab)}))
    (root / 'merges.txt').write_text(merges_text)
    tokenizer = CLIPTokenizer(str(root / 'vocab.json'),
                              str(root / 'merges.txt'))
    assert tokenizer.fix_text is not None, 'ftfy is needed for the reference'
    return tokenizer


@pytest.mark.parametrize('length', [8, 22, 77])
@pytest.mark.parametrize('text', SENTENCES)
def test_ids_and_mask_match_hf_clip_tokenizer(hf_tokenizer, text, length):
    ours = TokenizeExpression(context_length=length, warn_truncation=False)
    out = ours(dict(text=text))
    ref = hf_tokenizer(
        text, max_length=length, truncation=True, padding='max_length')
    ref_mask = np.array(ref['attention_mask'], bool)
    np.testing.assert_array_equal(out['token_mask'], ref_mask)
    np.testing.assert_array_equal(out['token_ids'][ref_mask],
                                  np.array(ref['input_ids'])[ref_mask])
    # HF pads with the end token, OpenAI's tokenize() (and we) with 0; the
    # text tower's causal mask keeps padding out of every real token.
    assert not out['token_ids'][~ref_mask].any()


def test_truncation_keeps_start_and_end_tokens(hf_tokenizer):
    text = SENTENCES[-1]
    full = hf_tokenizer(text)['input_ids']
    assert len(full) == 3 * 12 + 2  # 12 words a copy, start, end
    out = TokenizeExpression(context_length=8, warn_truncation=False)(
        dict(text=text))
    # start token, the first 6 words, end token
    assert out['token_ids'].tolist() == full[:7] + [49407]
    assert out['token_ids'].tolist() == [
        49406, 518, 2442, 736, 7117, 531, 518, 49407
    ]


def test_hub_tokenizer_gives_the_same_ids(hf_tokenizer, tmp_path):
    """``tokenizer=<hub id or directory>`` loads the slow tokenizer: the
    fast one skips ftfy, so curly quotes, ligatures and full-width letters
    would get other ids than CLIP was trained with."""
    hf_tokenizer.save_pretrained(tmp_path)
    hub = TokenizeExpression(
        context_length=22, tokenizer=str(tmp_path), warn_truncation=False)
    ours = TokenizeExpression(context_length=22, warn_truncation=False)
    for text in SENTENCES:
        np.testing.assert_array_equal(
            hub(dict(text=text))['token_ids'],
            ours(dict(text=text))['token_ids'],
            err_msg=text)
