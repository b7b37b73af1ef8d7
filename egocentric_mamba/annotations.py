"""Readers of the egocentric tasks' annotation files, shared by the data sets, the metrics and the evaluate CLI.

Every reader checks what it reads and raises an error that starts with the file (common.checks.InputError):

    Ego4D narrations     a pickle: a list of (video_uid, start_s, end_s, narration[, ...]) tuples, narration a
                         string or a non-empty list of strings (LaViLa's LM-augmented files; one is drawn)
    EK100 segments       EPIC_100_{train,validation}.csv, retrieval_annotations/EPIC_100_retrieval_{train,test}.csv:
                         read by column name (a leading `uid` column, as some copies carry, changes nothing)
    MIR sentences        EPIC_100_retrieval_{train,test}_sentence.csv: the id column `narration_id` or `index`, the
                         caption column `narration` or `sentence` (the official files have used both pairs; the
                         suite reads them by position); any other columns are ignored
    MIR relevancy        caption_relevancy_EPIC_100_retrieval_{train,test}.pkl: a pickled NumPy array clips x
                         sentences, values in [0, 1]
    action label map     the sorted distinct "verb_class:noun_class" strings of the EK100 csvs (the suite's
                         generate_label_map: sorted as strings, so "0:10" comes before "0:2"; 3,806 actions)
    EgoSchema            questions.json (q_uid, option 0..4, question when present), subset_answers.json
                         ({q_uid: option index})

Pickles: the narration and relevancy files are pickles by format. They are read with common.io.load_data_pickle,
which builds only plain data (lists, tuples, strings, numbers, NumPy arrays) and refuses any other object a
pickle could name, so an untrusted file cannot run code; `pandas.read_pickle` (the suite's reader) returns the
same values for these files and is not needed.
"""
import csv
import math
import numbers
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from common.checks import InputError, check_array, check_labels, check_segments
from common.io import load_data_pickle, load_json

NUM_OPTIONS = 5  # EgoSchema's answers per question


def read_csv_rows(path: str, required: Sequence[str], what: str) -> List[dict]:
    """The rows of a csv with a header, as dicts; errors name the file for a missing file or column, no rows."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: {what} not found")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        missing = [c for c in required if c not in columns]
        if missing:
            raise InputError(f"{path}: {what} lacks the column(s) {missing}; found {columns}")
        rows = list(reader)
    if not rows:
        raise InputError(f"{path}: {what} has no rows")
    return rows


def timestamp_seconds(text: str, source: str) -> float:
    """EK100's "HH:MM:SS.ff" -> seconds."""
    try:
        hours, minutes, seconds = text.split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except (AttributeError, ValueError):
        raise InputError(f"{source}: expected a timestamp HH:MM:SS.ff, found {text!r}") from None


def _int(text: str, source: str, column: str) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        raise InputError(f"{source}: expected an integer {column}, found {text!r}") from None


# ---------------------------------------------------------------------------------------------------------
# Ego4D


def read_ego4d_narrations(path: str) -> List[Tuple[str, float, float, object]]:
    """(video_uid, start_s, end_s, narration) per pickle entry, narration a str or a list of str; the fields
    after the fourth are ignored (as the suite does)."""
    entries = load_data_pickle(path, "narration pickle")
    if not isinstance(entries, list) or not entries:
        raise InputError(f"{path}: expected a non-empty list of (video_uid, start_s, end_s, narration) tuples, "
                         f"found {type(entries).__name__}")
    out = []
    for i, entry in enumerate(entries):
        where = f"{path}: entry {i}"
        if not isinstance(entry, (tuple, list)) or len(entry) < 4:
            raise InputError(f"{where}: expected a (video_uid, start_s, end_s, narration, ...) tuple, found "
                             f"{str(entry)[:200]}")
        uid, start, end, narration = entry[:4]
        if not isinstance(uid, str) or not uid:
            raise InputError(f"{where}: expected a video_uid string, found {uid!r}")
        if not all(isinstance(t, numbers.Real) and not isinstance(t, bool) for t in (start, end)):
            raise InputError(f"{where}: expected start and end seconds as numbers, found {start!r}, {end!r}")
        check_segments([float(start), float(end)], path, f"entry {i} ({uid})", what="narration clip")
        if isinstance(narration, list):
            if not narration or not all(isinstance(n, str) for n in narration):
                raise InputError(f"{where}: expected a narration string or a non-empty list of strings, found "
                                 f"{str(narration)[:200]}")
        elif not isinstance(narration, str):
            raise InputError(f"{where}: expected a narration string or a list of strings, found {narration!r}")
        out.append((uid, float(start), float(end), narration))
    return out


# ---------------------------------------------------------------------------------------------------------
# EPIC-Kitchens-100


@dataclass(frozen=True)
class Segment:
    """One row of an EPIC_100_*.csv."""
    narration_id: str
    participant_id: str
    video_id: str
    start: float  # seconds
    stop: float
    narration: str
    verb_class: int
    noun_class: int

    @property
    def action(self) -> str:
        """The suite's action key, "verb_class:noun_class"."""
        return f"{self.verb_class}:{self.noun_class}"


SEGMENT_COLUMNS = ("narration_id", "participant_id", "video_id", "start_timestamp", "stop_timestamp", "narration",
                   "verb_class", "noun_class")


def read_ek100_segments(path: str) -> List[Segment]:
    """The segments of an EPIC_100_*.csv in file order; narration_ids must be unique, start <= stop."""
    segments, seen = [], set()
    for line, row in enumerate(read_csv_rows(path, SEGMENT_COLUMNS, "EK100 segment csv"), start=2):
        source = f"{path}:{line}"
        if row["narration_id"] in seen:
            raise InputError(f"{source}: narration_id {row['narration_id']!r} appears twice")
        seen.add(row["narration_id"])
        start = timestamp_seconds(row["start_timestamp"], source)
        stop = timestamp_seconds(row["stop_timestamp"], source)
        check_segments([start, stop], source, row["narration_id"])
        verb, noun = _int(row["verb_class"], source, "verb_class"), _int(row["noun_class"], source, "noun_class")
        if verb < 0 or noun < 0:
            raise InputError(f"{source}: negative verb_class / noun_class {verb} / {noun}")
        segments.append(Segment(row["narration_id"], row["participant_id"], row["video_id"], start, stop,
                                row["narration"], verb, noun))
    return segments


SENTENCE_ID_COLUMNS, SENTENCE_TEXT_COLUMNS = ("narration_id", "index"), ("narration", "sentence")


def read_sentences(path: str) -> Tuple[List[str], List[str]]:
    """(ids, captions) of a retrieval sentence csv, in file order. Accepted headers: the id in `narration_id` or
    `index`, the caption in `narration` or `sentence` (exactly one of each)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: MIR sentence csv not found")
    with open(path, newline="") as f:
        columns = next(csv.reader(f), [])
    pick = []
    for names in (SENTENCE_ID_COLUMNS, SENTENCE_TEXT_COLUMNS):
        found = [c for c in names if c in columns]
        if len(found) != 1:
            raise InputError(f"{path}: expected exactly one of the columns {list(names)} in the MIR sentence csv, "
                             f"found {columns}")
        pick.append(found[0])
    rows = read_csv_rows(path, pick, "MIR sentence csv")
    ids = [r[pick[0]] for r in rows]
    if len(set(ids)) != len(ids):
        raise InputError(f"{path}: sentence id {next(i for i in ids if ids.count(i) > 1)!r} appears twice")
    return ids, [r[pick[1]] for r in rows]


def read_relevancy(path: str, num_clips: int, num_sentences: int, clip_file: str, sentence_file: str) -> np.ndarray:
    """The clips x sentences relevancy matrix, float64, checked against the csvs it belongs to."""
    relevancy = load_data_pickle(path, "relevancy pickle")
    relevancy = check_array(relevancy, path, what="relevancy matrix", ndim=2).astype(np.float64)
    if relevancy.shape != (num_clips, num_sentences):
        raise InputError(f"{path}: relevancy matrix of shape {relevancy.shape}, but {clip_file} lists {num_clips} "
                         f"clips and {sentence_file} {num_sentences} sentences (expected ({num_clips}, "
                         f"{num_sentences}))")
    if relevancy.min() < 0 or relevancy.max() > 1:
        raise InputError(f"{path}: relevancy values outside [0, 1] (min {relevancy.min():g}, max {relevancy.max():g})")
    return relevancy


def sentence_columns(clip_ids: Sequence[str], sentence_ids: Sequence[str], clip_file: str,
                     sentence_file: str) -> np.ndarray:
    """For each sentence, the index of the first clip whose narration_id is the sentence's id: the column that
    represents the sentence in the clip x clip similarity matrix (the suite's `video_id.index(text_id)`)."""
    first = {}
    for i, clip in enumerate(clip_ids):
        first.setdefault(clip, i)
    missing = [s for s in sentence_ids if s not in first]
    if missing:
        raise InputError(f"{sentence_file}: {len(missing)} sentence id(s) name no clip of {clip_file}, e.g. "
                         f"{missing[:3]}")
    return np.array([first[s] for s in sentence_ids], dtype=np.int64)


class ActionLabels:
    """The suite's EK100 action label space: `names` the sorted distinct "verb:noun" strings, index = action id;
    `verbs` / `nouns` (A,) the verb and noun class of each action."""

    def __init__(self, names: Sequence[str], source: str = "action label map"):
        names = list(names)
        if not names or names != sorted(set(names)):
            raise InputError(f"{source}: expected distinct 'verb:noun' strings in sorted order, found {names[:5]}...")
        pairs = []
        for name in names:
            parts = name.split(":")
            if len(parts) != 2 or not all(p.isdigit() for p in parts) or f"{int(parts[0])}:{int(parts[1])}" != name:
                raise InputError(f"{source}: expected 'verb_class:noun_class' integers, found {name!r}")
            pairs.append((int(parts[0]), int(parts[1])))
        self.names = tuple(names)
        self.index = {name: i for i, name in enumerate(names)}
        self.verbs = np.array([v for v, _ in pairs], dtype=np.int64)
        self.nouns = np.array([n for _, n in pairs], dtype=np.int64)

    @classmethod
    def from_csvs(cls, paths: Sequence[str]) -> "ActionLabels":
        """Every "verb_class:noun_class" of the given EPIC_100_*.csv files (the suite: train and validation)."""
        names = {s.action for path in paths for s in read_ek100_segments(path)}
        return cls(sorted(names), source=" + ".join(paths))

    def __len__(self):
        return len(self.names)

    def label(self, segment: Segment, source: str) -> int:
        if segment.action not in self.index:
            raise InputError(f"{source}: segment {segment.narration_id!r} has action {segment.action!r}, which is "
                             f"not in the label map ({len(self)} actions): build it from every annotation csv used")
        return self.index[segment.action]


# ---------------------------------------------------------------------------------------------------------
# EgoSchema


@dataclass(frozen=True)
class Question:
    q_uid: str
    options: Tuple[str, ...]
    question: Optional[str]  # absent in one released version of questions.json; the suite does not use it


def read_egoschema_questions(path: str) -> List[Question]:
    data = load_json(path, "EgoSchema questions file")
    if not isinstance(data, list) or not data:
        raise InputError(f"{path}: expected a non-empty list of question objects, found {type(data).__name__}")
    questions, seen = [], set()
    for i, item in enumerate(data):
        where = f"{path}: question {i}"
        if not isinstance(item, dict) or not isinstance(item.get("q_uid"), str):
            raise InputError(f"{where}: expected an object with a string 'q_uid'")
        if item["q_uid"] in seen:
            raise InputError(f"{where}: q_uid {item['q_uid']!r} appears twice")
        seen.add(item["q_uid"])
        options = [item.get(f"option {k}") for k in range(NUM_OPTIONS)]
        if not all(isinstance(o, str) for o in options):
            raise InputError(f"{where} ({item['q_uid']}): expected string 'option 0' .. 'option {NUM_OPTIONS - 1}'")
        question = item.get("question")
        if question is not None and not isinstance(question, str):
            raise InputError(f"{where} ({item['q_uid']}): expected 'question' as a string, found {question!r}")
        questions.append(Question(item["q_uid"], tuple(options), question))
    return questions


def read_egoschema_answers(path: str) -> Dict[str, int]:
    """subset_answers.json: {q_uid: correct option index}."""
    data = load_json(path, "EgoSchema answers file")
    if not isinstance(data, dict) or not data:
        raise InputError(f"{path}: expected a non-empty object {{q_uid: option index}}")
    check_answer_values(data, path)
    return {q: int(a) for q, a in data.items()}


def check_answer_values(answers: Dict[str, object], source: str) -> None:
    """Option indices: integers 0..4 (an integral float, as a csv may hold, passes)."""
    for q_uid, answer in answers.items():
        if isinstance(answer, bool) or not isinstance(answer, numbers.Real) or not math.isfinite(answer):
            raise InputError(f"{source}: q_uid {q_uid!r}: expected an option index 0..{NUM_OPTIONS - 1}, found "
                             f"{answer!r}")
        check_labels([answer], NUM_OPTIONS, source, f"q_uid {q_uid!r}", what="answer")
