"""Video lists and EPIC-Kitchens-100 action segments as mmaction2 data sets, every listed video checked at start-up.

`VideoListDataset` (and `RepeatAugVideoListDataset`, for the Kinetics recipe's repeated views) reads video lists,
"<video><delimiter><class id>" per line: the video suite's "path,label" csv lists without header (`delimiter=","`,
its `--split ','`) or mmaction2's "path label" (`delimiter=" "`, the default: the toy set), with every label checked
against `num_classes` and no video listed twice. `EpicKitchensDataset` reads the
official EPIC_100_{train,validation}.csv (epic-kitchens-100-annotations), one segment per row, by column name:
participant_id, video_id, start_timestamp, stop_timestamp (HH:MM:SS.ff), verb_class, noun_class (and
narration_id, the segment's id in the prediction file). Videos: one file per video_id, found at
data_prefix/`video_template` (default "{participant_id}/videos/{video_id}.MP4", the download layout; the suite's
AVION code reads videos re-encoded at 30 fps and 320 px: any frame rate works, the segment is located by its
timestamps and the file's own fps).

Every listed video is opened when the data set is built (`common.video.probe_videos`, in threads; the toy set's
600 videos take about a second), validation's included, so a missing or unreadable file stops the run before the
first epoch with the list line that names it; an EPIC segment must start inside its video. A video that fails
later, while the pipeline decodes it, is named too (decord's own error names a byte count).

`TrimToSegment`, placed right after DecordInit / PyAVInit, narrows the clip samplers (UniformSample, SampleFrames)
to the segment: start_index = round(start s * fps), total_frames = the segment's frames (at least 1). The suite
samples 16 frames spread evenly over the segment (AVION's get_frame_ids, jittered in training), which is
UniformSample(clip_len=16) on the trimmed segment.
"""
import csv
import os

from mmaction.datasets import BaseActionDataset, RepeatAugDataset, VideoDataset
from mmaction.registry import DATASETS, TRANSFORMS
from mmcv.transforms import BaseTransform

from common.checks import InputError, check_labels, check_segments, fail
from common.video import probe_videos

REQUIRED_COLUMNS = ("participant_id", "video_id", "start_timestamp", "stop_timestamp", "verb_class", "noun_class")
# Seconds a segment's stop may run past the video's last frame: timestamps are cut on the original 50 / 60 fps
# videos, frame counts read from the (re-encoded) file.
SEGMENT_TOLERANCE = 1.0


def timestamp_seconds(text: str) -> float:
    """"HH:MM:SS.ff" -> seconds."""
    hours, minutes, seconds = text.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def video_file(filename: str) -> str:
    """The file DecordInit opens for a listed video: one without an extension is read as .mp4."""
    return filename if os.path.splitext(filename)[1] else filename + ".mp4"


class ProbedVideos:
    """For mmaction2 video data sets: `probe` opens every listed video at start-up; a failure while the pipeline
    reads a video is an InputError naming the file."""

    def probe(self, filenames, where):
        """{filename: common.video.VideoInfo} of each distinct filename; `where` names the line listing each."""
        first = {}
        for filename, place in zip(filenames, where):
            first.setdefault(filename, place)
        return dict(zip(first, probe_videos([video_file(f) for f in first], list(first.values()))))

    def prepare_data(self, idx):
        try:
            return super().prepare_data(idx)
        except InputError:
            raise
        except Exception as err:  # decord / PyAV errors name neither the file nor the video
            raise InputError(f"{self.get_data_info(idx)['filename']}: the pipeline failed on this video "
                             f"({type(err).__name__}: {err})") from err


@DATASETS.register_module()
class VideoListDataset(ProbedVideos, VideoDataset):
    """mmaction2's VideoDataset, checked: each non-empty line "<video><delimiter><class id>" (mmaction2's
    `delimiter`: " " by default, "," for the suite's csv lists) with an integer label in [0, num_classes), no
    video twice (its predictions would count twice), every video opened at start-up."""

    def __init__(self, ann_file, pipeline, num_classes, **kwargs):
        super().__init__(ann_file, pipeline, num_classes=num_classes, **kwargs)

    def load_data_list(self):
        if not os.path.isfile(self.ann_file):
            raise FileNotFoundError(f"video list not found: {self.ann_file}")
        with open(self.ann_file) as f:
            lines = f.read().splitlines()
        data_list, where, seen = [], [], {}
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            parts = line.strip().split(self.delimiter)
            place = f"line {number}"
            if len(parts) != 2 or not parts[1].strip().lstrip("-").isdigit():
                other = next((d for d in (",", " ") if d != self.delimiter and d in line.strip()), None)
                fail(self.ann_file, place, f"expected '<video>{self.delimiter}<class id>', found {line!r}"
                     + (f" (delimiter={self.delimiter!r}; this line holds {other!r})" if other else ""))
            parts = [part.strip() for part in parts]
            label = int(check_labels(int(parts[1]), self.num_classes, self.ann_file, place))
            if parts[0] in seen:
                fail(self.ann_file, place, f"video {parts[0]!r} listed again (first on line {seen[parts[0]]})")
            seen[parts[0]] = number
            prefix = self.data_prefix["video"]
            data_list.append(dict(filename=parts[0] if prefix is None else os.path.join(prefix, parts[0]),
                                  label=label))
            where.append(f"{self.ann_file}: {place}")
        if not data_list:
            raise InputError(f"{self.ann_file}: lists no video")
        self.probe([d["filename"] for d in data_list], where)
        return data_list


@DATASETS.register_module()
class RepeatAugVideoListDataset(VideoListDataset, RepeatAugDataset):
    """`VideoListDataset` with mmaction2's RepeatAugDataset views (num_repeats clips of each video per item)."""


@DATASETS.register_module()
class EpicKitchensDataset(ProbedVideos, BaseActionDataset):
    """label: "verb" (97 classes) or "noun" (300 classes), the csv's verb_class / noun_class. Each item's
    `sample_id` is its narration_id (else "line N"): several segments share one video file."""

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
                raise InputError(f"{self.ann_file}: missing columns {missing} (expected EPIC_100_*.csv)")
            rows = list(reader)
        if not rows:
            raise InputError(f"{self.ann_file}: no segments")
        data_list, where, seen, num_classes = [], [], {}, self.NUM_CLASSES[self.label]
        for line, row in enumerate(rows, start=2):
            place = f"line {line}"
            try:
                start, stop = timestamp_seconds(row["start_timestamp"]), timestamp_seconds(row["stop_timestamp"])
                label = int(row[f"{self.label}_class"])
            except ValueError as e:
                fail(self.ann_file, place, str(e))
            check_labels(label, num_classes, self.ann_file, place, what=f"{self.label}_class")
            if stop <= start:
                fail(self.ann_file, place, f"segment [{start}, {stop}] s is empty")
            sample_id = row.get("narration_id") or place
            if sample_id in seen:
                fail(self.ann_file, place, f"narration_id {sample_id!r} again (first on line {seen[sample_id]})")
            seen[sample_id] = line
            filename = os.path.join(self.data_prefix["video"], self.video_template.format(**row))
            data_list.append(dict(filename=filename, label=label, start_second=start, stop_second=stop,
                                  sample_id=sample_id))
            where.append(f"{self.ann_file}: {place}")
        videos = self.probe([d["filename"] for d in data_list], where)
        for item, place in zip(data_list, where):
            info, segment = videos[item["filename"]], [item["start_second"], item["stop_second"]]
            if round(item["start_second"] * info.fps) >= info.num_frames:
                raise InputError(f"{place}: segment {segment} s starts after the end of {item['filename']} "
                                 f"({info.num_frames} frames at {info.fps:g} fps, {info.duration:.2f} s)")
            check_segments(segment, place, f"video {item['filename']}", duration=info.duration,
                           tolerance=SEGMENT_TOLERANCE)
        return data_list


@TRANSFORMS.register_module()
class TrimToSegment(BaseTransform):
    """Restricts frame sampling to [start_second, stop_second) of the opened video (needs avg_fps, total_frames).
    A segment that starts after the video's last frame is an error naming the file, never its last frame
    repeated."""

    def transform(self, results):
        fps, total = results["avg_fps"], results["total_frames"]
        first = int(round(results["start_second"] * fps))
        if first >= total:
            raise InputError(f"{results['filename']}: segment [{results['start_second']}, {results['stop_second']}] s "
                             f"starts at frame {first}, after the video's {total} frames at {fps:g} fps")
        last = min(int(round(results["stop_second"] * fps)), total)
        results["start_index"] = first
        results["total_frames"] = max(last - first, 1)
        return results
