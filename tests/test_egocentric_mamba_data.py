"""egocentric_mamba's data side: CLIP's tokenizer (the suite's ids), the suite's frame sampling and clip
transforms, the annotation readers and their errors (each naming the file), the four data sets on the toy set
in the real formats, and the toy set itself (formats, motion-only narrations, bytes identical across processes)."""
import json
import os

import pytest
import torch

from egocentric_mamba.tokenizer import EOT, SOT, ClipTokenizer

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


@pytest.fixture(scope="module")
def tokenizer():
    return ClipTokenizer()


def test_tokenizer_gives_the_suites_ids(tokenizer):
    """Ids from the suite's avion/data/tokenizer.py tokenize(text) on 23 strings: ftfy repair, double HTML
    unescaping, whitespace, case, contractions, digits, non-Latin scripts, emoji, literal special tokens,
    truncation to 77 (the last id forced to end-of-text), the empty string."""
    cases = json.load(open(os.path.join(FIXTURES, "egocentric_mamba_clip_tokens.json")))["cases"]
    batch = tokenizer([c["text"] for c in cases])
    assert batch.shape == (len(cases), 77) and batch.dtype == torch.long
    for row, case in zip(batch, cases):
        n = len(case["ids"])
        assert row[:n].tolist() == case["ids"], case["text"]
        assert (row[n:] == 0).all()
        assert row[0] == SOT and row[n - 1] == EOT
        # the text tower pools at the first largest id: the end of text, or a literal "<end_of_text>" (as upstream)
        assert row.argmax() == (n - 1 if "<end_of_text>" not in case["text"] else 3)
    assert max(len(c["ids"]) for c in cases) == 77
    assert torch.equal(tokenizer(cases[0]["text"]), batch[0])


def test_tokenizer_without_vocabulary_says_where_it_comes_from(monkeypatch, tmp_path):
    import egocentric_mamba.tokenizer as tok
    monkeypatch.setattr(tok, "VOCAB_PACKAGE", "no_such_package_here")
    with pytest.raises(FileNotFoundError, match="ships with open_clip_torch"):
        tok.default_vocab_path()
    import gzip
    with gzip.open(tmp_path / "small.txt.gz", "wt") as f:
        f.write("#version\na b\n")
    with pytest.raises(ValueError, match="small.txt.gz: not CLIP's BPE vocabulary"):
        ClipTokenizer(str(tmp_path / "small.txt.gz"))
