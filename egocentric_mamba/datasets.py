"""The egocentric data sets: Ego4D narrations (pre-training), EK100 multi-instance retrieval, EK100 action
recognition and EgoSchema, read as the suite's avion/data/clip_dataset.py reads them.

Videos (all read through common.video, every failure naming the file):
- Ego4D and EK100 are stored as 15 s chunks addressed at a fixed 30 fps: absolute frame f lies in chunk
  f // 450 at offset f % 450. `chunk_template` names a chunk file under `video_root` from {video} (the video
  uid / video_id), {chunk} (its index), {start} (its start in seconds) and, for EK100, {participant}:
  SUITE_CHUNKS "{video}/{chunk:04d}.mp4" is the suite's loader, AVION_CHUNKS "{video}.mp4/{start}.mp4" AVION's
  and the suite's datasets README. Before the first epoch every listed video is probed: its chunks are counted
  from 0, the last one is opened (frame count; its rate must be 30 fps, the addressing assumes it), and a clip
  starting after the video's last frame is an error naming the annotation entry.
- EgoSchema reads the whole <q_uid>.mp4, its frame rate taken as 30 (as the suite does); each video is probed.

Frames (`frame_ids`, the suite's get_frame_ids): [round(start * 30), round(end * 30)] split into clip_length
equal segments, each segment's midpoint; in training each is shifted by a uniform jitter of
+-(end - start - 1) / (2 * clip_length) frames; then truncated to int. A clip that ends after the video's last
frame ends at that frame (AVION's rule; the suite's loader fails there and substitutes a random sample: we warn
with the count instead). AVION applies its rule per chunk, so it also moves an end that falls in the last 1/30 s
of a full middle chunk to that chunk's last frame; we do not (the suite neither).
EgoSchema: "uniform" = clip_length segment midpoints over [0, video end] (the suite's end time of 99,999,999 s,
capped at the video length); "prefix" = the first clip_length consecutive frames (its end time of -1, the paper's
protocol).

Pixels: training takes one random resized crop per clip (torchvision's RandomResizedCrop: scale (0.5, 1), aspect
(3/4, 4/3), 10 tries then a centre crop) resized to crop_size; evaluation resizes the short side to crop_size
and takes the centre crop (the suite's fused decoder does both while decoding). Then OpenAI CLIP's mean / std on
0-255 pixels. No flip.

Samples: {"inputs": float (3, T, crop, crop), "data_samples": {"tokens": LongTensor (77,) ((5, 77) for
EgoSchema), "label": int (EK100 actions only), "meta": {ids the metrics need}}}; `egocentric_collate` stacks
`inputs` (B, 3, T, H, W), `tokens` and `label` and lists the `meta` dicts, which a model copies into its
predictions. A sample that fails to load is an error naming the file, never a silent substitute.
"""
import math
import os
import warnings
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from common.checks import InputError
from common.engine import DATASETS, FUNCTIONS
from common.video import probe_video, read_chunked_frames, read_frames
from .annotations import ActionLabels, Segment, read_ego4d_narrations, read_egoschema_questions, \
    read_ek100_segments, read_relevancy, read_sentences
from .tokenizer import ClipTokenizer

FPS = 30  # the suite's fixed frame rate of the re-encoded chunks (and of EgoSchema, taken as 30)
CHUNK_SECONDS = 15
SUITE_CHUNKS = "{video}/{chunk:04d}.mp4"
AVION_CHUNKS = "{video}.mp4/{start}.mp4"
CLIP_MEAN = (122.7709383, 116.7460125, 104.09373615000001)  # OpenAI CLIP, on 0-255 pixels
CLIP_STD = (68.5005327, 66.6321579, 70.32316305)
MIR_POSITIVE_RELEVANCY = 0.1  # fine-tuning captions: any train sentence with relevancy > 0.1 to the clip


def frame_ids(start_frame: int, end_frame: int, num_segments: int, jitter: bool = False) -> List[int]:
    """The suite's get_frame_ids: segment midpoints of [start_frame, end_frame], jittered in training (torch's
    random stream), truncated to int."""
    edges = np.linspace(start_frame, end_frame, num_segments + 1)
    ids = (edges[:-1] + edges[1:]) / 2
    if jitter:
        ids = ids + (torch.rand(num_segments, dtype=torch.float64).numpy() - 0.5) * (
            float(end_frame - start_frame - 1) / num_segments)
    return ids.astype(int).tolist()


def random_resized_crop_box(height: int, width: int, scale=(0.5, 1.0), ratio=(3 / 4, 4 / 3)):
    """(top, left, h, w) as torchvision's RandomResizedCrop.get_params draws it (torch's random stream)."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * torch.empty(1).uniform_(scale[0], scale[1]).item()
        aspect = math.exp(torch.empty(1).uniform_(log_ratio[0], log_ratio[1]).item())
        w, h = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = torch.randint(0, height - h + 1, size=(1,)).item()
            left = torch.randint(0, width - w + 1, size=(1,)).item()
            return top, left, h, w
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        h, w = height, int(round(height * max(ratio)))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


class ClipTransform:
    """uint8 frames (T, H, W, 3) -> normalised float (3, T, crop, crop): a random resized crop in training, short
    side resize + centre crop otherwise."""

    def __init__(self, crop_size: int = 224, training: bool = False, scale=(0.5, 1.0)):
        self.crop_size, self.training, self.scale = crop_size, training, scale
        self.mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
        self.std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)

    def resize(self, x, size):
        if tuple(x.shape[-2:]) == tuple(size):
            return x
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)

    def __call__(self, frames: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()  # (T, 3, H, W)
        height, width, size = x.shape[2], x.shape[3], self.crop_size
        if self.training:
            top, left, h, w = random_resized_crop_box(height, width, self.scale)
            x = self.resize(x[:, :, top:top + h, left:left + w], (size, size))
        else:  # torchvision Resize(size) then CenterCrop(size)
            short, long_ = min(height, width), max(height, width)
            scaled = (size, int(size * long_ / short))
            x = self.resize(x, scaled if height <= width else scaled[::-1])
            top, left = int(round((x.shape[2] - size) / 2.0)), int(round((x.shape[3] - size) / 2.0))
            x = x[:, :, top:top + size, left:left + size]
        return ((x - self.mean) / self.std).permute(1, 0, 2, 3).contiguous()


class ChunkedVideos:
    """Videos stored as chunk files of CHUNK_SECONDS at FPS under `root`, named by `template`."""

    def __init__(self, root: str, template: str = SUITE_CHUNKS):
        self.root, self.template = root, template
        self.frames_per_chunk = CHUNK_SECONDS * FPS
        self.num_frames: Dict[str, int] = {}

    def path(self, video: str, chunk: int, participant: str = "") -> str:
        try:
            name = self.template.format(video=video, chunk=chunk, start=chunk * CHUNK_SECONDS, participant=participant)
        except (KeyError, IndexError, ValueError) as err:
            raise ValueError(f"chunk_template {self.template!r}: fields are {{video}}, {{chunk}}, {{start}}, "
                             f"{{participant}} ({err})") from None
        return os.path.join(self.root, name)

    def probe(self, video: str, participant: str = "") -> int:
        """The video's frame count: its consecutive chunks from 0, the last one opened."""
        if video not in self.num_frames:
            chunks = 0
            while os.path.isfile(self.path(video, chunks, participant)):
                chunks += 1
            if chunks == 0:
                raise FileNotFoundError(f"{self.path(video, 0, participant)}: first chunk of video {video!r} not found")
            info = probe_video(self.path(video, chunks - 1, participant))
            if abs(info.fps - FPS) > 1e-3 * FPS:
                raise InputError(f"{info.path}: {info.fps:g} fps; chunked videos are addressed at {FPS} fps "
                                 "(re-encode them at 30 fps, as the suite does)")
            self.num_frames[video] = (chunks - 1) * self.frames_per_chunk + info.num_frames
        return self.num_frames[video]

    def clip_frames(self, video: str, start: float, end: float, clip_length: int, jitter: bool) -> List[int]:
        """Absolute frame ids of a clip [start, end] s; the end capped at the video's last frame."""
        end = min(end, (self.num_frames[video] - 1) / FPS)
        return frame_ids(int(np.round(start * FPS)), int(np.round(end * FPS)), clip_length, jitter)

    def read(self, video: str, ids: Sequence[int], participant: str = "") -> np.ndarray:
        return read_chunked_frames(lambda k: self.path(video, k, participant), ids, self.frames_per_chunk)


class ClipDataset(torch.utils.data.Dataset):
    """What the video-text data sets share: the clip transform, the tokenizer, the sample layout."""

    def __init__(self, clip_length: int, crop_size: int, training: bool, vocab_path: Optional[str]):
        self.clip_length, self.training = clip_length, training
        self.transform = ClipTransform(crop_size, training)
        self.tokenizer = ClipTokenizer(vocab_path)

    def sample(self, frames: np.ndarray, text, meta: dict, **extra) -> dict:
        """extra: further data_samples entries (the action label)."""
        return dict(inputs=self.transform(frames), data_samples=dict(tokens=self.tokenizer(text), meta=meta, **extra))


class ChunkedClipDataset(ClipDataset):
    """Clips of chunked videos: every video probed at start-up, clips past a video's end counted."""

    def __init__(self, video_root, chunk_template, clip_length, crop_size, training, vocab_path):
        super().__init__(clip_length, crop_size, training, vocab_path)
        self.videos = ChunkedVideos(video_root, chunk_template)

    def check_clips(self, clips, source: str):
        """clips: (name, video, participant, start, end); probes each video once."""
        beyond = 0
        for name, video, participant, start, end in clips:
            num_frames = self.videos.probe(video, participant)
            last = (num_frames - 1) / FPS
            if start > last:
                raise InputError(f"{source}: {name} starts at {start:g} s, after the last frame ({last:g} s) of video "
                                 f"{video!r} ({num_frames} frames in {self.videos.path(video, 0, participant)} ...)")
            beyond += end > last
        if beyond:
            warnings.warn(f"{source}: {beyond} of {len(clips)} clips end after their video's last frame; they end at "
                          "that frame (AVION's rule; the suite would substitute a random sample)")

    def load(self, video: str, start: float, end: float, participant: str = "") -> np.ndarray:
        ids = self.videos.clip_frames(video, start, end, self.clip_length, self.training)
        return self.videos.read(video, ids, participant)


@DATASETS.register_module()
class Ego4DNarrationDataset(ChunkedClipDataset):
    """Ego4D clip-narration pairs (LaViLa's ego4d_train.pkl and its LM-augmented variants) for pre-training.
    A narration given as a list of strings is drawn uniformly per sample (the suite's narration_selection
    'random'). meta: video_uid, index, narration (the one drawn)."""

    def __init__(self, ann_file: str, video_root: str, clip_length: int = 4, crop_size: int = 224,
                 training: bool = True, chunk_template: str = SUITE_CHUNKS, vocab_path: Optional[str] = None):
        super().__init__(video_root, chunk_template, clip_length, crop_size, training, vocab_path)
        self.ann_file = ann_file
        self.entries = read_ego4d_narrations(ann_file)
        self.check_clips([(f"entry {i}", uid, "", start, end) for i, (uid, start, end, _) in enumerate(self.entries)],
                         ann_file)

    def __len__(self):
        return len(self.entries)

    def __getitem__(self, index):
        uid, start, end, narration = self.entries[index]
        if isinstance(narration, list):
            narration = narration[torch.randint(len(narration), (1,)).item()]
        return self.sample(self.load(uid, start, end), narration,
                           meta=dict(video_uid=uid, index=index, narration=narration))


class EK100ClipDataset(ChunkedClipDataset):
    """EK100 segments of one EPIC_100_*.csv over chunked videos (ROOT/<video_id>/%04d.mp4 by default)."""

    def __init__(self, ann_file, video_root, chunk_template, clip_length, crop_size, training, vocab_path):
        super().__init__(video_root, chunk_template, clip_length, crop_size, training, vocab_path)
        self.ann_file = ann_file
        self.segments: List[Segment] = read_ek100_segments(ann_file)
        self.check_clips([(s.narration_id, s.video_id, s.participant_id, s.start, s.stop) for s in self.segments],
                         ann_file)

    def __len__(self):
        return len(self.segments)

    def load_segment(self, seg: Segment) -> np.ndarray:
        return self.load(seg.video_id, seg.start, seg.stop, seg.participant_id)


@DATASETS.register_module()
class EK100MIRDataset(EK100ClipDataset):
    """EK100 multi-instance retrieval. Evaluation (training=False): each clip with its own narration, in csv
    order (the suite's zero-shot and fine-tuned protocol). Fine-tuning (training=True): each clip with a caption
    drawn uniformly among the sentences of `sentence_file` whose relevancy to it exceeds 0.1 (`relevancy_file`
    needed). meta: narration_id, index, caption. `metainfo` names the files the retrieval metric reads."""

    def __init__(self, ann_file: str, sentence_file: str, video_root: str, relevancy_file: Optional[str] = None,
                 clip_length: int = 4, crop_size: int = 224, training: bool = False,
                 chunk_template: str = SUITE_CHUNKS, vocab_path: Optional[str] = None):
        super().__init__(ann_file, video_root, chunk_template, clip_length, crop_size, training, vocab_path)
        self.sentence_file, self.relevancy_file = sentence_file, relevancy_file
        self.sentence_ids, self.sentences = read_sentences(sentence_file)
        self.positives = None
        if training:
            if relevancy_file is None:
                raise ValueError(f"{ann_file}: MIR fine-tuning draws captions by relevancy: give relevancy_file")
            relevancy = read_relevancy(relevancy_file, len(self.segments), len(self.sentences), ann_file,
                                       sentence_file)
            self.positives = [np.flatnonzero(row > MIR_POSITIVE_RELEVANCY) for row in relevancy]
            lonely = [s.narration_id for s, p in zip(self.segments, self.positives) if p.size == 0]
            if lonely:
                raise InputError(f"{relevancy_file}: {len(lonely)} clip(s) of {ann_file} have no sentence with "
                                 f"relevancy > {MIR_POSITIVE_RELEVANCY}, e.g. {lonely[:3]}")

    @property
    def metainfo(self):
        return dict(ann_file=self.ann_file, sentence_file=self.sentence_file, relevancy_file=self.relevancy_file)

    def __getitem__(self, index):
        seg = self.segments[index]
        if self.positives is None:
            caption = seg.narration
        else:
            choices = self.positives[index]
            caption = self.sentences[choices[torch.randint(len(choices), (1,)).item()]]
        return self.sample(self.load_segment(seg), caption,
                           meta=dict(narration_id=seg.narration_id, index=index, caption=caption))


@DATASETS.register_module()
class EK100ActionDataset(EK100ClipDataset):
    """EK100 action recognition over the suite's action label map: `label_files` (EPIC_100_train.csv and
    EPIC_100_validation.csv, the same list for every split) give the sorted "verb:noun" strings, label = index.
    Samples carry the narration as tokens (unused by the classifier). meta: narration_id, index, label."""

    def __init__(self, ann_file: str, label_files: Sequence[str], video_root: str, clip_length: int = 16,
                 crop_size: int = 224, training: bool = False, chunk_template: str = SUITE_CHUNKS,
                 vocab_path: Optional[str] = None):
        super().__init__(ann_file, video_root, chunk_template, clip_length, crop_size, training, vocab_path)
        self.actions = ActionLabels.from_csvs(list(label_files))
        self.labels = [self.actions.label(s, ann_file) for s in self.segments]

    @property
    def metainfo(self):
        return dict(ann_file=self.ann_file, actions=self.actions.names)

    def __getitem__(self, index):
        seg, label = self.segments[index], self.labels[index]
        return self.sample(self.load_segment(seg), seg.narration, label=label,
                           meta=dict(narration_id=seg.narration_id, index=index, label=label))


PROMPT = "Is it '{}'"  # the suite's EgoSchema prompt, the question left out


@DATASETS.register_module()
class EgoSchemaDataset(ClipDataset):
    """Zero-shot EgoSchema: per question the whole <q_uid>.mp4 under `video_root` and the five prompts
    "Is it '<option lower-cased>'". sampling: "uniform" (the suite's README numbers) or "prefix" (the paper's).
    meta: q_uid, index."""

    SAMPLINGS = ("uniform", "prefix")

    def __init__(self, ann_file: str, video_root: str, clip_length: int = 16, crop_size: int = 224,
                 sampling: str = "uniform", vocab_path: Optional[str] = None):
        if sampling not in self.SAMPLINGS:
            raise ValueError(f"sampling must be one of {self.SAMPLINGS}, got {sampling!r}")
        super().__init__(clip_length, crop_size, False, vocab_path)
        self.ann_file, self.video_root, self.sampling = ann_file, video_root, sampling
        self.questions = read_egoschema_questions(ann_file)
        self.num_frames = [probe_video(self.path(q.q_uid)).num_frames for q in self.questions]

    @property
    def metainfo(self):
        return dict(ann_file=self.ann_file, q_uids=tuple(q.q_uid for q in self.questions))

    def path(self, q_uid: str) -> str:
        return os.path.join(self.video_root, f"{q_uid}.mp4")

    def clip_frames(self, num_frames: int) -> List[int]:
        if self.sampling == "prefix":
            end = min(self.clip_length, num_frames)
        else:  # the suite: int((end_second - 0) * fps) frames, end_second = num_frames / fps
            end = min(max(int(num_frames / FPS * FPS), self.clip_length), num_frames)
        return frame_ids(0, end, self.clip_length)

    def __len__(self):
        return len(self.questions)

    def __getitem__(self, index):
        question = self.questions[index]
        frames = read_frames(self.path(question.q_uid), self.clip_frames(self.num_frames[index]))
        return self.sample(frames, [PROMPT.format(option.lower()) for option in question.options],
                           meta=dict(q_uid=question.q_uid, index=index))


@FUNCTIONS.register_module()
def egocentric_collate(batch: List[dict]) -> dict:
    """Samples -> {"inputs": (B, 3, T, H, W), "data_samples": {"tokens": (B, 77) or (B, 5, 77), ["label": (B,)],
    "meta": [B dicts]}}."""
    samples = [b["data_samples"] for b in batch]
    data_samples = dict(tokens=torch.stack([s["tokens"] for s in samples]), meta=[s["meta"] for s in samples])
    if "label" in samples[0]:
        data_samples["label"] = torch.tensor([s["label"] for s in samples], dtype=torch.long)
    return dict(inputs=torch.stack([b["inputs"] for b in batch]), data_samples=data_samples)
