"""PDVC's on-disk data: caption json, vocabulary json, per-video feature files, paragraph references.

Caption json (ActivityNet Captions train_modified / val_1 / val_2, YouCook2):
    {video_id: {"duration": s, "timestamps": [[start_s, end_s], ...], "sentences": [str, ...],
                "action_labels": [int, ...] (optional, default 0)}}
Vocabulary json: {"ix_to_word": {"1": word, ...}, "word_to_ix": {word: 1, ...}}, 1-based; index 0 is
BOS, EOS and padding; a word missing from the vocabulary becomes index vocab_size (PDVC's 'UNK').
Features: one T x D .npy per video and feature type, named from the video id as PDVC names them
(FEATURE_TYPES); each type is resized to `frame_embedding_num` steps by nearest interpolation on
endpoint-aligned positions, then the types are concatenated along channels.
Paragraph references: {video_id: paragraph string} (read by metrics.py).
"""
import os
import warnings
from collections import Counter

import numpy as np
import torch
from scipy.interpolate import interp1d

from common.checks import InputError, check_array, check_labels, check_segments
from common.engine import DATASETS, FUNCTIONS
from common.io import load_array, load_json

# feature type -> (channels, file name from the 13-character video id 'v_XXXXXXXXXXX'), as PDVC's get_feats
FEATURE_TYPES = {
    "c3d": (500, "{vid}.npy"),
    "tsp": (512, "{vid}.npy"),
    "resnet": (2048, "{youtube_id}_resnet.npy"),  # TSN, appearance stream
    "bn": (1024, "{youtube_id}_bn.npy"),  # TSN, motion stream
    "i3d_rgb": (1024, "{vid}_rgb.npy"),
    "i3d_flow": (1024, "{vid}_flow.npy"),
    "vggish": (128, "{vid}.npy"),
}
MISSING_FEATURE_STEPS = 100  # PDVC stands in zeros of this length for a missing feature file
# PDVC's Translator: these become spaces before lower-casing and splitting on whitespace. '\\n' is the
# two characters backslash-n (escaped newlines in the annotations), replaced before the lone backslash.
PUNCTUATION = (",", ":", "!", "_", ";", "-", ".", "?", "/", '"', "\\n", "\\", ".")
# How far (s) an event may end past its video's duration (or start before 0). The annotations PDVC ships
# round to 0.01 s: ActivityNet's train_modified / val_1 / val_2 end up to 0.01 s past the duration (261,
# 134 and 111 events), YouCook2's never; 0.1 s is ten times that (timestamps rounded to a tenth pass too).
TIMESTAMP_TOLERANCE = 0.1
# The largest fraction of training-caption words a vocabulary may miss (they become UNK). PDVC's own
# vocabularies miss 1.3% (ActivityNet, train_modified) and 0.8% (YouCook2, yc2_train); another data set's
# vocabulary misses 11% (ActivityNet's on YouCook2) to 42% (YouCook2's on ActivityNet).
MAX_UNKNOWN_WORDS = 0.1


# ---------------------------------------------------------------------------------------------------------
# vocabulary


def split_words(sentence):
    """PDVC's tokenisation of a caption: punctuation -> space, lower-case, split on whitespace."""
    for mark in PUNCTUATION:
        sentence = sentence.replace(mark, " ")
    return sentence.lower().split()


class Vocabulary:
    """PDVC's vocabulary file and its Translator: sentences <-> index sequences."""

    def __init__(self, path, vocab_size=None):
        data = load_json(path, "vocabulary file")
        if not (isinstance(data, dict) and isinstance(data.get("ix_to_word"), dict)
                and isinstance(data.get("word_to_ix"), dict)):
            raise InputError(f"{path}: expected {{'ix_to_word': {{'1': word, ...}}, 'word_to_ix': {{word: 1, ...}}}}")
        self.path, self.word_to_ix = path, data["word_to_ix"]
        self.size = len(self.word_to_ix)
        if vocab_size is not None and vocab_size != self.size:
            raise InputError(f"{path}: {self.size} words, the config expects vocab_size={vocab_size}")
        try:
            self.words = [None] + [data["ix_to_word"][str(i)] for i in range(1, self.size + 1)]
        except KeyError as err:
            raise InputError(f"{path}: ix_to_word has no entry {err} (expected '1'..'{self.size}')") from None
        if sorted(self.word_to_ix.values()) != list(range(1, self.size + 1)):
            raise InputError(f"{path}: word_to_ix must map the words to 1..{self.size} one to one")
        # captions are encoded with word_to_ix and the model's words decoded with ix_to_word: they must agree
        for i, word in enumerate(self.words[1:], start=1):
            if self.word_to_ix.get(word) != i:
                raise InputError(f"{path}: ix_to_word['{i}'] is {word!r}, but word_to_ix[{word!r}] is "
                                 f"{self.word_to_ix.get(word)}")

    def unknown_words(self, sentences):
        """(Counter of the words of `sentences` missing from the vocabulary, the number of words)."""
        words = [w for sentence in sentences for w in split_words(sentence)]
        return Counter(w for w in words if w not in self.word_to_ix), len(words)

    def check_coverage(self, sentences, source, max_unknown=MAX_UNKNOWN_WORDS):
        """An error naming the vocabulary file when it misses more than `max_unknown` of the words of
        `sentences` (from `source`): they would all be trained as UNK."""
        unknown, total = self.unknown_words(sentences)
        missed = sum(unknown.values())
        if total and missed > max_unknown * total:
            common = ", ".join(repr(w) for w, _ in unknown.most_common(5))
            raise InputError(f"{self.path}: the vocabulary misses {missed / total:.1%} of the caption words of "
                             f"{source} ({missed} of {total}; most frequent: {common}), expected at most "
                             f"{max_unknown:.0%}: is it the vocabulary of another data set?")

    def encode(self, sentence, max_len):
        """[0] + word ids (out-of-vocabulary -> vocab_size) cut to max_len - 2 + [0]."""
        ids = [self.word_to_ix.get(w, self.size) for w in split_words(sentence)]
        return np.array([0] + ids[:max_len - 2] + [0], dtype=np.int64)

    def decode(self, ids):
        """Word ids up to the first 0 -> 'w1 w2 ... wn.' ('' for an empty sequence), as PDVC's rtranslate."""
        words = []
        for i in ids:
            if i == 0:
                break
            words.append(self.words[int(i)])
        return " ".join(words) + "." if words else ""


# ---------------------------------------------------------------------------------------------------------
# captions and features


def load_captions(path, num_classes=1, require_events=True):
    """Read and validate a PDVC caption json; returns {video_id: dict(duration, timestamps, sentences, labels)}.
    Timestamps must lie in [0, duration] within TIMESTAMP_TOLERANCE."""
    data = load_json(path, "caption file")
    if not isinstance(data, dict) or not data:
        raise InputError(f"{path}: expected a non-empty object {{video_id: {{duration, timestamps, sentences}}}}")
    videos = {}
    for vid, video in data.items():
        where = f"video {vid!r}"
        if not isinstance(video, dict):
            raise InputError(f"{path}: {where}: expected an object with duration, timestamps, sentences")
        duration, stamps, sentences = video.get("duration"), video.get("timestamps"), video.get("sentences")
        if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not 0 < duration < float("inf"):
            raise InputError(f"{path}: {where}: 'duration' must be a positive number of seconds, found {duration!r}")
        if not isinstance(stamps, list) or not isinstance(sentences, list) or len(stamps) != len(sentences):
            raise InputError(f"{path}: {where}: 'timestamps' and 'sentences' must be lists of equal length")
        if require_events and not stamps:
            raise InputError(f"{path}: {where}: no events (PDVC needs at least one timestamp / sentence per video)")
        check_segments(stamps, path, where, duration=duration, tolerance=TIMESTAMP_TOLERANCE, what="timestamp")
        for i, sentence in enumerate(sentences):
            if not isinstance(sentence, str):
                raise InputError(f"{path}: {where}: sentence {i} is not a string")
        labels = video.get("action_labels", [0] * len(stamps))
        if not isinstance(labels, list) or len(labels) != len(stamps):
            raise InputError(f"{path}: {where}: 'action_labels' must hold one class id per event")
        labels = check_labels(labels, num_classes, path, where, what="action label").tolist()
        videos[vid] = dict(duration=float(duration), timestamps=stamps, sentences=sentences, labels=labels)
    return videos


def feature_path(folder, feature_type, video_id):
    """Where PDVC looks for one video's features of one type."""
    if feature_type not in FEATURE_TYPES:
        raise ValueError(f"unknown feature type {feature_type!r}; known: {sorted(FEATURE_TYPES)}")
    return os.path.join(folder, FEATURE_TYPES[feature_type][1].format(vid=video_id[:13], youtube_id=video_id[2:13]))


def read_features(path, channels):
    """One video's (T, channels) features from a .npy file, checked for shape and finiteness."""
    return check_array(load_array(path), path, shape=(None, channels), min_rows=1, what="feature array")


def resize_features(feats, length):
    """PDVC's resizeFeature: nearest interpolation at positions i (T - 1) / (length - 1), endpoints aligned
    (scipy's 'nearest' rounds halves down); a single step is repeated."""
    if len(feats) == 1:
        return np.repeat(feats, length, axis=0)
    positions = [i * float(len(feats) - 1) / (length - 1) for i in range(length)]
    return interp1d(np.arange(len(feats)), feats, axis=0, kind="nearest")(positions)


# ---------------------------------------------------------------------------------------------------------
# data set


@DATASETS.register_module()
class DenseCaptionDataset(torch.utils.data.Dataset):
    """One video per item: its resized features, events (normalised boxes, labels, caption ids) and metadata.

    feature_types / feature_folders: one folder per type (PDVC's visual_feature_type / _folder, e.g.
    ['resnet', 'bn'] for TSN). invalid_video_files: json lists of ids to drop (PDVC's invalid_video_json).
    In training at most `max_events` events per video are kept, a random subset in annotation order
    (PDVC's gt_proposal_sample_num). A missing feature file stands in as zeros (100 steps), as in PDVC,
    with one warning naming it. In training the vocabulary must know all but `max_unknown_words` of the
    captions' words (Vocabulary.check_coverage).
    """

    def __init__(self, caption_file, vocab_file, vocab_size, feature_folders, feature_types, frame_embedding_num=100,
                 max_caption_len=30, max_events=30, invalid_video_files=(), num_classes=1, training=False,
                 max_unknown_words=MAX_UNKNOWN_WORDS):
        if isinstance(feature_types, str):
            feature_types, feature_folders = [feature_types], [feature_folders]
        if len(feature_types) != len(feature_folders):
            raise ValueError(f"{len(feature_types)} feature types but {len(feature_folders)} feature folders")
        if frame_embedding_num < 2:
            raise ValueError(f"frame_embedding_num must be >= 2, got {frame_embedding_num}")
        for feature_type in feature_types:
            feature_path("", feature_type, "v_")  # unknown types fail here, before any file is read
        self.caption_file, self.vocab_file = caption_file, vocab_file
        self.vocab = Vocabulary(vocab_file, vocab_size)
        self.streams = [(t, folder, FEATURE_TYPES[t][0]) for t, folder in zip(feature_types, feature_folders)]
        self.frame_embedding_num, self.max_caption_len = frame_embedding_num, max_caption_len
        self.max_events, self.training = max_events, training

        videos = load_captions(caption_file, num_classes)
        invalid = set()
        for path in invalid_video_files:
            ids = load_json(path, "invalid-video list")
            if not isinstance(ids, list):
                raise InputError(f"{path}: expected a json list of video ids")
            invalid.update(ids)
        self.video_ids = [vid for vid in videos if vid[:13] not in invalid]
        if not self.video_ids:
            raise InputError(f"{caption_file}: no video left after removing those in {list(invalid_video_files)}")
        if training:
            self.vocab.check_coverage((s for vid in self.video_ids for s in videos[vid]["sentences"]), caption_file,
                                      max_unknown_words)
        self.videos = videos
        self.missing = set()
        for vid in self.video_ids:
            for feature_type, folder, _ in self.streams:
                path = feature_path(folder, feature_type, vid)
                if not os.path.isfile(path):
                    self.missing.add(path)
                    warnings.warn(f"{path}: feature file not found; video {vid!r} gets zero features "
                                  f"({MISSING_FEATURE_STEPS} steps), as PDVC does")

    @property
    def metainfo(self):
        """Handed to the metric (`dataset_meta`): the vocabulary that decodes the model's word ids."""
        return dict(caption_file=self.caption_file, vocab_file=self.vocab_file, vocab_size=self.vocab.size)

    def __len__(self):
        return len(self.video_ids)

    def load_features(self, video_id):
        streams = []
        for feature_type, folder, channels in self.streams:
            path = feature_path(folder, feature_type, video_id)
            if path in self.missing:
                feats = np.zeros((MISSING_FEATURE_STEPS, channels), dtype=np.float32)
            else:
                feats = read_features(path, channels)
            streams.append(resize_features(feats, self.frame_embedding_num))
        return np.concatenate(streams, axis=1).astype(np.float32)

    def __getitem__(self, idx):
        vid = self.video_ids[idx]
        video = self.videos[vid]
        events = np.arange(len(video["timestamps"]))
        if self.training and len(events) > self.max_events:
            events = np.sort(np.random.choice(events, self.max_events, replace=False))
        stamps = np.array([video["timestamps"][i] for i in events], dtype=np.float64).reshape(-1, 2)
        duration = video["duration"]
        boxes = np.stack([(stamps[:, 0] + stamps[:, 1]) / (2 * duration), (stamps[:, 1] - stamps[:, 0]) / duration], 1)
        sentences = [video["sentences"][i] for i in events]
        return dict(
            feats=torch.from_numpy(self.load_features(vid)), video_id=vid, duration=duration,
            timestamps=stamps.tolist(), sentences=sentences,
            boxes=torch.from_numpy(boxes).float(),
            labels=torch.tensor([video["labels"][i] for i in events], dtype=torch.long),
            captions=[torch.from_numpy(self.vocab.encode(s, self.max_caption_len)) for s in sentences])


@FUNCTIONS.register_module()
def pdvc_collate(batch):
    """Videos padded to the longest (mask True = valid); each video's captions padded to the batch's longest
    caption, rows [0, w1, ..., wn, 0, 0, ...] as PDVC's collate_fn builds them."""
    length = max(item["feats"].shape[0] for item in batch)
    feats = batch[0]["feats"].new_zeros(len(batch), length, batch[0]["feats"].shape[1])
    cap_len = max(len(c) for item in batch for c in item["captions"])
    samples = []
    for i, item in enumerate(batch):
        feats[i, :item["feats"].shape[0]] = item["feats"]
        captions = torch.zeros(len(item["captions"]), cap_len, dtype=torch.long)
        for j, c in enumerate(item["captions"]):
            captions[j, :len(c)] = c
        sample = {k: v for k, v in item.items() if k not in ("feats", "captions")}
        sample.update(num_frames=item["feats"].shape[0], captions=captions,
                      caption_lengths=torch.tensor([len(c) for c in item["captions"]]))
        samples.append(sample)
    return dict(inputs=feats, data_samples=samples)
