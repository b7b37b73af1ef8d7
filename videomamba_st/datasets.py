"""EPIC-Kitchens-100 action segments as an mmaction2 data set (verb or noun classification).

Annotations: the official EPIC_100_{train,validation}.csv (epic-kitchens-100-annotations), one segment per row,
read by column name: participant_id, video_id, start_timestamp, stop_timestamp (HH:MM:SS.ff), verb_class,
noun_class. Videos: one file per video_id, found at data_prefix/`video_template` (default
"{participant_id}/videos/{video_id}.MP4", the download layout; the suite's AVION code reads videos re-encoded at
30 fps and 320 px: any frame rate works, the segment is located by its timestamps and the file's own fps).

`TrimToSegment`, placed right after DecordInit / PyAVInit, narrows the clip samplers (UniformSample, SampleFrames)
to the segment: start_index = round(start s * fps), total_frames = the segment's frames (at least 1). The suite
samples 16 frames spread evenly over the segment (AVION's get_frame_ids, jittered in training), which is
UniformSample(clip_len=16) on the trimmed segment.
"""
import csv
import os

from mmaction.datasets import BaseActionDataset
from mmaction.registry import DATASETS, TRANSFORMS
from mmcv.transforms import BaseTransform

REQUIRED_COLUMNS = ("participant_id", "video_id", "start_timestamp", "stop_timestamp", "verb_class", "noun_class")


def timestamp_seconds(text: str) -> float:
    """"HH:MM:SS.ff" -> seconds."""
    hours, minutes, seconds = text.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


@DATASETS.register_module()
class EpicKitchensDataset(BaseActionDataset):
    """label: "verb" (97 classes) or "noun" (300 classes), the csv's verb_class / noun_class."""

    NUM_CLASSES = {"verb": 97, "noun": 300}

    def __init__(self, ann_file, pipeline, label="verb", video_template="{participant_id}/videos/{video_id}.MP4",
                 data_prefix=dict(video=""), **kwargs):
        if label not in self.NUM_CLASSES:
            raise ValueError(f"label must be 'verb' or 'noun', got {label!r}")
        self.label, self.video_template = label, video_template
        super().__init__(ann_file, pipeline=pipeline, data_prefix=data_prefix, **kwargs)

    def load_data_list(self):
        with open(self.ann_file, newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"{self.ann_file}: missing columns {missing} (expected EPIC_100_*.csv)")
            rows = list(reader)
        if not rows:
            raise ValueError(f"{self.ann_file}: no segments")
        data_list, num_classes = [], self.NUM_CLASSES[self.label]
        for line, row in enumerate(rows, start=2):
            try:
                start, stop = timestamp_seconds(row["start_timestamp"]), timestamp_seconds(row["stop_timestamp"])
                label = int(row[f"{self.label}_class"])
            except ValueError as e:
                raise ValueError(f"{self.ann_file}:{line}: {e}") from None
            if not 0 <= label < num_classes or stop <= start:
                raise ValueError(f"{self.ann_file}:{line}: {self.label}_class {label} outside [0, {num_classes}) "
                                 f"or segment [{start}, {stop}] s empty")
            filename = os.path.join(self.data_prefix["video"], self.video_template.format(**row))
            data_list.append(dict(filename=filename, label=label, start_second=start, stop_second=stop))
        return data_list


@TRANSFORMS.register_module()
class TrimToSegment(BaseTransform):
    """Restricts frame sampling to [start_second, stop_second) of the opened video (needs avg_fps, total_frames)."""

    def transform(self, results):
        fps = results["avg_fps"]
        first = min(int(round(results["start_second"] * fps)), results["total_frames"] - 1)
        last = min(int(round(results["stop_second"] * fps)), results["total_frames"])
        results["start_index"] = first
        results["total_frames"] = max(last - first, 1)
        return results
