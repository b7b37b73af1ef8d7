"""TeSTra's EPIC-Kitchens-100 layout and RULSTM's annotation CSVs: validating readers and the data sets.

Features and per-frame targets (DATA_ROOT, one .npy per video, TeSTra's layout):
    rgb_kinetics_bninception/<video>.npy    L x 1024 (4 fps: tick t covers frames [7.5 t, 7.5 (t + 1)) at 30 fps)
    flow_kinetics_bninception/<video>.npy   L x 1024
    target_perframe/<video>.npy             L x (A + 1) multi-hot; column 0 = background, action a -> column a + 1
    verb_perframe/<video>.npy               L x (V + 1)
    noun_perframe/<video>.npy               L x (N + 1)
Annotations (ANN_DIR, RULSTM's data/ek100):
    actions.csv      header `id,verb,noun,action`: A action classes; V = max verb + 1, N = max noun + 1
    training.csv, validation.csv    no header: id,video,start_frame,end_frame,verb,noun,action (30 fps frames)
    test_timestamps.csv             no header: id,video,start_frame,end_frame (the challenge's unlabelled split)
    validation_tail_{verbs,nouns,actions}_ids.csv, validation_unseen_participants_ids.csv: one segment id a line

Windows. A window ending at tick e (exclusive) has observed the ticks before e. Every model reads the same
`history`, the H ticks [e - H, e) (H = long + work memory span unless set), ticks before 0 replaced by tick 0
(upstream's clip(0)); its rows to classify are the work ticks e - W, e - W + 2, ..., e - 2 and the anticipation
ticks e, e + 4 (TeSTra's 10 + 2 rows on EK100).
Training (TeSTra's LSTRDataLayer on EK100): one window per training segment and epoch; the segment's start tick
s = floor(start_frame * 4 / 30) is moved by a random 0..7 ticks (not past its end) and the window ends 8 ticks
(2 s) before it; clip mixup replaces half of the earlier segments overlapping the long-memory span (sampled
without replacement) with a same-action segment of another, longer training segment.
Evaluation (RULSTM, 1 s anticipation): a segment's window ends at e = s - 4, so every observed tick ends by the
segment start minus 1 s, and the 1 s query (tick e + 4 = s) is scored. A segment with e <= 0 has nothing to
observe: RULSTM / TeSTra give it zero scores ("discarded"), and so does the metric.
"""
import csv
import os

import numpy as np
import torch

from common.checks import check_array, check_finite, check_lengths, check_targets
from common.engine import DATASETS, FUNCTIONS
from common.io import load_array

FPS = 4  # feature ticks per second
FRAME_RATE = 30  # RULSTM's frame numbering
FEATURE_DIRS = ("rgb_kinetics_bninception", "flow_kinetics_bninception")
TARGET_DIRS = ("target_perframe", "verb_perframe", "noun_perframe")
SUBSETS = ("tail_verbs", "tail_nouns", "tail_actions", "unseen_participants")


def frame_to_tick(frame: int) -> int:
    """floor(frame / 30 * 4), exactly (integer arithmetic)."""
    return frame * FPS // FRAME_RATE


class ActionClasses:
    """actions.csv: action id -> (verb, noun, name). Ids must be 0..A-1, each once."""

    def __init__(self, path: str):
        rows = _read_csv(path)
        if not rows or [c.strip() for c in rows[0]] != ["id", "verb", "noun", "action"]:
            raise ValueError(f"{path}: expected the header 'id,verb,noun,action'")
        by_id = {}
        for line, row in enumerate(rows[1:], start=2):
            if len(row) < 4:
                raise ValueError(f"{path}: line {line}: expected id,verb,noun,action, found {row!r}")
            action, verb, noun = (_int(path, line, field, value) for field, value in
                                  zip(("id", "verb", "noun"), row[:3]))
            if action in by_id:
                raise ValueError(f"{path}: line {line}: action id {action} appears twice")
            by_id[action] = (verb, noun, ",".join(row[3:]).strip())
        if sorted(by_id) != list(range(len(by_id))) or not by_id:
            raise ValueError(f"{path}: action ids must be 0..A-1 with none missing; found {len(by_id)} ids "
                             f"from {min(by_id, default=None)} to {max(by_id, default=None)}")
        self.path = path
        self.verb_of = np.array([by_id[a][0] for a in range(len(by_id))])
        self.noun_of = np.array([by_id[a][1] for a in range(len(by_id))])
        self.names = [by_id[a][2] for a in range(len(by_id))]
        if self.verb_of.min() < 0 or self.noun_of.min() < 0:
            raise ValueError(f"{path}: verb and noun ids must be >= 0")

    @property
    def num_actions(self) -> int:
        return len(self.verb_of)

    @property
    def num_verbs(self) -> int:
        return int(self.verb_of.max()) + 1

    @property
    def num_nouns(self) -> int:
        return int(self.noun_of.max()) + 1


class Segment:
    """One row of a RULSTM segment CSV; labels are -1 in the unlabelled test split."""

    __slots__ = ("id", "video", "start_frame", "end_frame", "verb", "noun", "action")

    def __init__(self, id, video, start_frame, end_frame, verb=-1, noun=-1, action=-1):
        self.id, self.video, self.start_frame, self.end_frame = id, video, start_frame, end_frame
        self.verb, self.noun, self.action = verb, noun, action

    @property
    def start_tick(self) -> int:
        return frame_to_tick(self.start_frame)

    @property
    def end_tick(self) -> int:
        return frame_to_tick(self.end_frame)

    @property
    def participant(self) -> str:
        return self.video.split("_")[0]


def read_segments(path: str, classes: ActionClasses | None) -> list[Segment]:
    """A RULSTM segment CSV: labelled (7 columns, checked against `classes`) or, with classes=None, the
    challenge's timestamps (4 columns)."""
    width = 4 if classes is None else 7
    what = "id,video,start_frame,end_frame" + ("" if classes is None else ",verb,noun,action")
    segments, seen = [], set()
    for line, row in enumerate(_read_csv(path), start=1):
        if len(row) != width:
            raise ValueError(f"{path}: line {line}: expected {width} columns ({what}), found {len(row)}")
        seg_id, video = row[0].strip(), row[1].strip()
        if not seg_id or not video:
            raise ValueError(f"{path}: line {line}: empty segment id or video")
        if seg_id in seen:
            raise ValueError(f"{path}: line {line}: segment id {seg_id!r} appears twice")
        seen.add(seg_id)
        numbers = [_int(path, line, field, value) for field, value in zip(what.split(",")[2:], row[2:])]
        start, end = numbers[:2]
        if start < 0 or end < start:
            raise ValueError(f"{path}: line {line}: expected 0 <= start_frame <= end_frame, found {start}, {end}")
        if classes is not None:
            verb, noun, action = numbers[2:]
            if not 0 <= action < classes.num_actions:
                raise ValueError(f"{path}: line {line}: action {action} is not in {classes.path} "
                                 f"(ids 0..{classes.num_actions - 1})")
            if (verb, noun) != (classes.verb_of[action], classes.noun_of[action]):
                raise ValueError(f"{path}: line {line}: verb {verb}, noun {noun} disagree with action {action} "
                                 f"in {classes.path} (verb {classes.verb_of[action]}, noun {classes.noun_of[action]})")
        segments.append(Segment(seg_id, video, *numbers))
    if not segments:
        raise ValueError(f"{path}: no segments (empty split)")
    return segments


def read_ids(path: str) -> list[str]:
    """One segment id per line (RULSTM's validation_*_ids.csv)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: not found (expected one segment id per line)")
    with open(path) as f:
        return [line.strip().split(",")[0] for line in f if line.strip()]


class EK100Annotations:
    """RULSTM's EK100 annotation folder: classes, splits (read on first use), evaluation subsets."""

    def __init__(self, root: str):
        self.root = root
        self.classes = ActionClasses(os.path.join(root, "actions.csv"))
        self._splits = {}

    def segments(self, split: str) -> list[Segment]:
        """'training', 'validation' (labelled) or 'test_timestamps' (unlabelled)."""
        if split not in self._splits:
            labelled = split != "test_timestamps"
            self._splits[split] = read_segments(os.path.join(self.root, f"{split}.csv"),
                                                self.classes if labelled else None)
        return self._splits[split]

    def subset_ids(self, name: str) -> set[str]:
        """Segment ids of a validation subset (one of SUBSETS); every id must be a validation segment."""
        path = os.path.join(self.root, f"validation_{name}_ids.csv")
        ids = read_ids(path)
        known = {s.id for s in self.segments("validation")}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise ValueError(f"{path}: {len(unknown)} ids are not validation segments, e.g. {unknown[0]!r}")
        return set(ids)

    def action_frequencies(self) -> np.ndarray:
        """Fraction of training segments per action class (A,): the equalisation loss's frequencies."""
        counts = np.bincount([s.action for s in self.segments("training")], minlength=self.classes.num_actions)
        return counts / counts.sum()


def _read_csv(path):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: not found")
    with open(path, newline="") as f:
        return [row for row in csv.reader(f, skipinitialspace=True) if row]


def _int(path, line, field, value):
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{path}: line {line}: {field} must be an integer, found {value!r}") from None


# ---------------------------------------------------------------------------------------------------------
# features and per-frame targets


class FeatureStore:
    """Per-video features (concatenated streams) and targets, read from the .npy files row range by row range.

    Checks every file's header when built (exists, a 2-D numeric array of the stream's width, one length per
    video across its streams), and the values of every row it reads (finite features; multi-hot targets, as
    TeSTra's generate_targets writes them), so bad input fails with the file named."""

    def __init__(self, data_root, videos, classes: ActionClasses, feature_dirs=FEATURE_DIRS,
                 feature_dims=(1024, 1024), target_dirs=TARGET_DIRS, with_targets=True):
        if len(feature_dirs) != len(feature_dims):
            raise ValueError(f"feature_dirs {feature_dirs} and feature_dims {feature_dims} differ in length")
        self.data_root, self.feature_dirs, self.target_dirs = data_root, tuple(feature_dirs), tuple(target_dirs)
        widths = [(d, w) for d, w in zip(feature_dirs, feature_dims)]
        if with_targets:
            counts = (classes.num_actions, classes.num_verbs, classes.num_nouns)
            widths += [(d, n + 1) for d, n in zip(target_dirs, counts)]
        self.lengths = {}
        for video in videos:
            lengths = {}
            for folder, width in widths:
                path, what = self.path(folder, video), self._kind(folder)
                array = check_array(load_array(path, mmap_mode="r", what=what + " file"), path, shape=(None, width),
                                    min_rows=1, finite=False, what=what + " array")
                lengths[os.path.join(folder, video + ".npy")] = len(array)
            self.lengths[video] = check_lengths(lengths, data_root, what="ticks")

    def _kind(self, folder):
        return "target" if folder in self.target_dirs else "feature"

    def path(self, folder, video):
        return os.path.join(self.data_root, folder, video + ".npy")

    def _read(self, folder, video, ticks):
        """Rows `ticks` (int array in [0, L), or a slice) of one file as float32."""
        path, what = self.path(folder, video), self._kind(folder)
        rows = load_array(path, mmap_mode="r", what=what + " file")[ticks]
        ticks = np.arange(*ticks.indices(self.lengths[video])) if isinstance(ticks, slice) else ticks
        if what == "target":
            check_targets(rows, "multi_hot", path, row_numbers=ticks)
        else:
            check_finite(rows, path, what="features", row_numbers=ticks)
        return np.array(rows, dtype=np.float32)  # a copy: nothing keeps the file mapped

    def features(self, video, ticks) -> np.ndarray:
        """(n, sum of feature_dims) float32 at `ticks` (ints in [0, L) or a slice)."""
        return np.concatenate([self._read(d, video, ticks) for d in self.feature_dirs], axis=-1)

    def targets(self, video, ticks) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Action, verb and noun multi-hot rows at `ticks`."""
        return tuple(self._read(d, video, ticks) for d in self.target_dirs)


# ---------------------------------------------------------------------------------------------------------
# data set


@DATASETS.register_module()
class EK100AnticipationDataset(torch.utils.data.Dataset):
    """Training windows (one per segment and epoch) or, for evaluation, whole videos with the window ends
    to score: see the module docstring. `track_videos` > 0 also asks for a window every `track_stride` ticks
    of the first such videos (the anticipation-over-time plots).

    Items, training: dict(history (H, C), start (tick of history[0], may be < 0), action / verb / noun
    (R, classes + 1) targets of the rows). Evaluation: dict(video, features (L, C), ends (P,), segment_ids
    (P,), discarded (ids scored zero), track_ends (T,), track_labels (T,) the action at each track's 1 s
    target tick, -1 for background).
    """

    def __init__(self, data_root, annotations, split, training, feature_dirs=FEATURE_DIRS,
                 feature_dims=(1024, 1024), target_dirs=TARGET_DIRS, long_memory_ticks=256, work_memory_ticks=20,
                 work_memory_stride=2, anticipation_ticks=8, anticipation_stride=4, anticipation_gap_ticks=4,
                 history_ticks=None, clip_mixup_rate=0.5, track_videos=0, track_stride=2):
        for name, value, stride in (("work_memory_ticks", work_memory_ticks, work_memory_stride),
                                    ("anticipation_ticks", anticipation_ticks, anticipation_stride),
                                    ("anticipation_gap_ticks", anticipation_gap_ticks, anticipation_stride)):
            if value % stride or value <= 0:
                raise ValueError(f"{name}={value} must be a positive multiple of its stride {stride}")
        self.ann = EK100Annotations(annotations)
        self.split, self.training = split, training
        self.segments = self.ann.segments(split)
        self.work_ticks, self.work_stride = work_memory_ticks, work_memory_stride
        self.ant_ticks, self.ant_stride, self.gap = anticipation_ticks, anticipation_stride, anticipation_gap_ticks
        self.history_ticks = history_ticks or long_memory_ticks + work_memory_ticks
        if self.history_ticks < work_memory_ticks:
            raise ValueError(f"history_ticks={history_ticks} is shorter than the work memory ({work_memory_ticks})")
        self.clip_mixup_rate, self.track_stride = clip_mixup_rate, track_stride
        self.videos = list(dict.fromkeys(s.video for s in self.segments))
        labelled = split != "test_timestamps"
        self.store = FeatureStore(data_root, self.videos, self.ann.classes, feature_dirs, feature_dims,
                                  target_dirs, with_targets=labelled)
        for seg in self.segments:
            if seg.start_tick >= self.store.lengths[seg.video]:
                raise ValueError(f"{annotations}/{split}.csv: segment {seg.id} starts at tick {seg.start_tick}, but "
                                 f"{seg.video} has {self.store.lengths[seg.video]} feature ticks")
        self.by_video = {}
        for s in self.segments:
            self.by_video.setdefault(s.video, []).append(s)
        if training:
            self.items = [s for s in self.segments if self._last_tick(s) >= self.ant_ticks + self.work_ticks]
            if not self.items:
                raise ValueError(f"{annotations}/{split}.csv: no segment starts late enough for a training window")
            self.by_action = {}
            for s in self.segments:
                self.by_action.setdefault(s.action, []).append(s)
        else:
            self.items = self.videos
            self.track_videos = set(self.videos[:track_videos]) if labelled else set()
        self.metainfo = dict(annotations=annotations, split=split, anticipation_gap_ticks=anticipation_gap_ticks,
                             num_actions=self.ann.classes.num_actions, num_verbs=self.ann.classes.num_verbs,
                             num_nouns=self.ann.classes.num_nouns)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self._training_window(self.items[index]) if self.training else self._video(self.items[index])

    # -- training --------------------------------------------------------------------------------------
    def _last_tick(self, seg):
        """The latest start TeSTra's random shift reaches: start + 7, at most the segment's last tick."""
        return min(seg.start_tick + self.ant_ticks - 1, seg.end_tick, self.store.lengths[seg.video] - 1)

    def _window_end(self, seg):
        """TeSTra: start + randint(0, 8), capped at the segment end, minus 8; shifts whose window would begin
        before tick 0 (upstream drops such a draw) are left out of the draw."""
        shift = np.random.randint(max(0, self.ant_ticks + self.work_ticks - seg.start_tick), self.ant_ticks)
        return min(seg.start_tick + shift, self._last_tick(seg)) - self.ant_ticks

    def window_ticks(self, end):
        """Tick indices (clipped to >= 0) of the history of the window ending at `end`."""
        return np.clip(np.arange(end - self.history_ticks, end), 0, None)

    def row_ticks(self, end):
        """The ticks whose labels the model's rows predict: work memory at its stride, then anticipation."""
        return np.concatenate([np.arange(end - self.work_ticks, end, self.work_stride),
                               np.arange(end, end + self.ant_ticks, self.ant_stride)])

    def _training_window(self, seg):
        end = self._window_end(seg)
        history = self.store.features(seg.video, self.window_ticks(end))
        if self.clip_mixup_rate > 0:
            self._clip_mixup(history, seg, end)
        action, verb, noun = self.store.targets(seg.video, self.row_ticks(end))
        return dict(history=torch.from_numpy(history), start=end - self.history_ticks, video=seg.video,
                    action=torch.from_numpy(action), verb=torch.from_numpy(verb), noun=torch.from_numpy(noun))

    def _clip_mixup(self, history, seg, end):
        """TeSTra's clip mixup on the long-memory span [end - H, end - W) of `history` (in place)."""
        span_start, span_end = end - self.history_ticks, end - self.work_ticks
        before = [s for s in self.by_video[seg.video] if s.end_frame < seg.start_frame
                  and s.end_frame * FPS / FRAME_RATE > span_start]
        count = int(len(before) * self.clip_mixup_rate)
        for i in np.random.choice(len(before), count, replace=False) if count else ():
            old = before[i]
            ticks = np.arange(max(old.start_tick, span_start, 0),
                              min(-(-old.end_frame * FPS // FRAME_RATE), span_end - 1) + 1)
            donors = [s for s in self.by_action[old.action] if s.video != old.video
                      and s.end_frame - s.start_frame > old.end_frame - old.start_frame]
            if not donors or not len(ticks):
                continue
            new = donors[np.random.randint(len(donors))]
            room = min(new.end_tick, self.store.lengths[new.video]) - new.start_tick - len(ticks)
            if room < 0:
                continue
            first = new.start_tick + np.random.randint(room + 1)
            history[ticks - span_start] = self.store.features(new.video, slice(first, first + len(ticks)))

    # -- evaluation ------------------------------------------------------------------------------------
    def _video(self, video):
        length = self.store.lengths[video]
        segments = self.by_video[video]
        scored = [s for s in segments if s.start_tick - self.gap > 0]
        item = dict(video=video, features=torch.from_numpy(self.store.features(video, slice(0, length))),
                    ends=np.array([s.start_tick - self.gap for s in scored], dtype=np.int64),
                    segment_ids=[s.id for s in scored],
                    discarded=[s.id for s in segments if s.start_tick - self.gap <= 0],
                    track_ends=np.zeros(0, dtype=np.int64), track_labels=np.zeros(0, dtype=np.int64))
        if video in self.track_videos:
            ends = np.arange(1, length - self.gap, self.track_stride)
            action = self.store.targets(video, ends + self.gap)[0]
            labels = np.where(action[:, 1:].any(1), action[:, 1:].argmax(1), -1)
            item.update(track_ends=ends, track_labels=labels)
        return item


@FUNCTIONS.register_module()
def anticipation_collate(items):
    """Training windows -> dict(inputs=history (B, H, C), data_samples=dict of stacked start / targets);
    evaluation videos -> dict(inputs=[features (L_i, C)], data_samples=[the rest of each item])."""
    if "history" in items[0]:
        samples = {k: torch.stack([it[k] for it in items]) for k in ("action", "verb", "noun")}
        samples["start"] = torch.tensor([it["start"] for it in items])
        samples["videos"] = [it["video"] for it in items]  # named by FiniteLossHook
        return dict(inputs=torch.stack([it["history"] for it in items]), data_samples=samples)
    return dict(inputs=[it["features"] for it in items],
                data_samples=[{k: v for k, v in it.items() if k != "features"} for it in items])
