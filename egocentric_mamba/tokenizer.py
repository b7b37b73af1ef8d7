"""CLIP's byte-level BPE tokenizer, giving the same ids as the suite's avion/data/tokenizer.py (OpenAI CLIP's).

Text is cleaned as CLIP cleans it: ftfy.fix_text, HTML entities unescaped twice, runs of whitespace collapsed to
one space, stripped, lower-cased. It is split into words by CLIP's pattern (contractions, letter runs, single
digits, runs of other non-space characters; the literal special tokens too), each word's UTF-8 bytes are mapped
to printable characters and merged by the 48,894 BPE merges in rank order. A caption becomes
[49406 (start of text)] + ids + [49407 (end of text)], cut to the context length (77) with its last entry set to
49407, zero-padded: the text tower pools at the position of the largest id, the end of text.

The vocabulary, `bpe_simple_vocab_16e6.txt.gz`, is OpenAI's file, byte-identical in the suite and in the
open_clip_torch wheel: it is read from that installed package, located without importing it (importing
open_clip pulls torchvision). `make install` puts open_clip_torch in with --no-deps for this file alone.
"""
import gzip
import html
import importlib.util
import os
from functools import lru_cache
from typing import List, Sequence, Union

import ftfy
import regex
import torch

VOCAB_FILE = "bpe_simple_vocab_16e6.txt.gz"
VOCAB_PACKAGE = "open_clip"  # the open_clip_torch wheel
NUM_MERGES = 49152 - 256 - 2  # CLIP's vocabulary: 256 bytes x 2 (in-word, word-final) + merges + 2 specials
SOT, EOT = 49406, 49407
CONTEXT_LENGTH = 77
SPECIAL_TOKENS = ("<start_of_text>", "<end_of_text>")
WORD_PATTERN = regex.compile(
    "|".join(SPECIAL_TOKENS) + r"""|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""", regex.IGNORECASE)


def default_vocab_path() -> str:
    """The vocabulary file inside the installed open_clip_torch package (found, not imported)."""
    spec = importlib.util.find_spec(VOCAB_PACKAGE)
    path = os.path.join(spec.submodule_search_locations[0], VOCAB_FILE) if spec else None
    if path is None or not os.path.isfile(path):
        raise FileNotFoundError(f"CLIP's BPE vocabulary {VOCAB_FILE} not found: it ships with open_clip_torch "
                                "(pip install --no-deps open_clip_torch==3.3.0; make install does), or pass "
                                "vocab_path=")
    return path


@lru_cache()
def byte_to_char() -> dict:
    """CLIP's reversible byte -> character map: printable Latin-1 bytes stand for themselves, the other 68 bytes
    (control characters, space, soft hyphen, ...) for the characters 256, 257, ... in byte order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    return {**{b: chr(b) for b in printable}, **{b: chr(256 + i) for i, b in enumerate(others)}}


def clean(text: str) -> str:
    text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
    return regex.sub(r"\s+", " ", text).strip().lower()


class ClipTokenizer:
    """`tokenizer(text)` -> LongTensor (context_length,); `tokenizer([texts])` -> (len(texts), context_length)."""

    def __init__(self, vocab_path: str = None, context_length: int = CONTEXT_LENGTH):
        vocab_path = vocab_path or default_vocab_path()
        with gzip.open(vocab_path) as f:
            lines = f.read().decode("utf-8").split("\n")
        merges = [tuple(line.split()) for line in lines[1:NUM_MERGES + 1]]  # line 0 is a version header
        chars = list(byte_to_char().values())
        vocab = chars + [c + "</w>" for c in chars] + ["".join(m) for m in merges] + list(SPECIAL_TOKENS)
        self.encoder = {token: i for i, token in enumerate(vocab)}
        if len(self.encoder) != EOT + 1 or self.encoder[SPECIAL_TOKENS[1]] != EOT:
            raise ValueError(f"{vocab_path}: not CLIP's BPE vocabulary ({len(self.encoder)} tokens, expected "
                             f"{EOT + 1})")
        self.ranks = {merge: i for i, merge in enumerate(merges)}
        self.context_length = context_length
        self.cache = {token: [self.encoder[token]] for token in SPECIAL_TOKENS}

    def bpe(self, word: str) -> List[int]:
        """Ids of one pre-tokenised word (bytes already mapped to characters): the lowest-ranked adjacent pair is
        merged everywhere (left to right, non-overlapping) until no pair is a merge."""
        if word in self.cache:
            return self.cache[word]
        parts = list(word[:-1]) + [word[-1] + "</w>"]
        while len(parts) > 1:
            pairs = {(a, b) for a, b in zip(parts, parts[1:])}
            best = min(pairs, key=lambda pair: self.ranks.get(pair, float("inf")))
            if best not in self.ranks:
                break
            merged, i = [], 0
            while i < len(parts):
                if i + 1 < len(parts) and (parts[i], parts[i + 1]) == best:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        ids = [self.encoder[part] for part in parts]
        self.cache[word] = ids
        return ids

    def encode(self, text: str) -> List[int]:
        """BPE ids of `text`, without the start / end tokens."""
        to_char = byte_to_char()
        ids = []
        for word in WORD_PATTERN.findall(clean(text)):
            ids.extend(self.bpe("".join(to_char[b] for b in word.encode("utf-8"))))
        return ids

    def __call__(self, texts: Union[str, Sequence[str]]) -> torch.Tensor:
        single = isinstance(texts, str)
        texts = [texts] if single else list(texts)
        out = torch.zeros(len(texts), self.context_length, dtype=torch.long)
        for row, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"expected a caption string, found {type(text).__name__}: {text!r}")
            ids = [SOT] + self.encode(text) + [EOT]
            if len(ids) > self.context_length:
                ids = ids[:self.context_length - 1] + [EOT]
            out[row, :len(ids)] = torch.tensor(ids)
        return out[0] if single else out
