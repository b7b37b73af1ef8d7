"""A small synthetic egocentric set, written in exactly the real formats, whose narrations only time can tell.

Every video (32 x 32 px, 30 fps, H.264) shows the same four objects, one shape and colour per noun, on a plain
background. During an action the narrated object(s) glide in the verb's direction (push: right, pull: left,
lift: up, lower: down; 0.8 px a frame, wrapping around the edges) while the others stand still. Every frame
shows all four objects, drawn in a fixed order, at positions that say nothing about the current narration
(drawn uniformly when the video starts, moved since only by earlier actions), so no single frame tells which
object moves nor which way: a one-frame model is at chance; what moves and where takes two frames or more.
One action in five moves two objects together ("push box and fork").

Measured (scratch script, not committed): a tiny 3D-conv / bag-of-words CLIP trained 25 epochs on the toy
Ego4D pairs reaches zero-shot EK100 MIR mAP 83.4 (avg), nDCG 82.1; fed one frame repeated, 34.7 / 51.0, as
random embeddings (31.7 / 49.2).

    OUT/ego4d/ego4d_train.pkl        LaViLa's format: [(video_uid, start_s, end_s, narration), ...]; a third of
                                     the narrations are lists of paraphrases (the LM-augmented files' form)
    OUT/ego4d/videos/<uid>/%04d.mp4  15 s chunks (the suite's layout); a third of the videos run past 15 s
    OUT/ek100/epic-kitchens-100-annotations/
        EPIC_100_{train,validation}.csv                   the official columns
        retrieval_annotations/EPIC_100_retrieval_{train,test}.csv     the same clips (train / validation),
                                                          with the leading `uid` column some copies carry
        retrieval_annotations/EPIC_100_retrieval_train_sentence.csv   index,narration,verb_class,noun_classes,verb,nouns
        retrieval_annotations/EPIC_100_retrieval_test_sentence.csv    index,sentence
        retrieval_annotations/relevancy/caption_relevancy_EPIC_100_retrieval_{train,test}.pkl
                                                          clips x sentences, the official rule: the mean of the
                                                          verb-class IoU and the noun-class IoU (1 = same verb and
                                                          nouns; 3/4, 2/3, 1/2, 1/4, 1/6 for partial overlaps)
    OUT/ek100/videos/<video_id>/%04d.mp4                  15 s chunks, 30 fps
    OUT/egoschema/questions.json, subset_answers.json     5 options a question, the answers of two thirds
    OUT/egoschema/videos/<q_uid>.mp4                      whole videos, one action throughout

Class ids are sparse, as in EK100 (verbs 0, 2, 3, 11; nouns 1, 2, 10, 12), so the action label map's string
order ("0:1" < "0:10" < "0:2") and the marginalisation's unused ids are exercised. Ego4D narrations read
"#C C push the box" and variants, EK100 ones "push box", EgoSchema options "C pushes the box": the same words in
other forms, so zero-shot transfer needs no new vocabulary.

`make_toy_data(out_dir, seed)` writes the same bytes for a seed in any process (see write_mp4).
"""
import json
import os
import pickle

import numpy as np

from common.io import built_aside

SIZE, FPS, CHUNK_FRAMES = 32, 30, 15 * 30
SPEED = 0.8  # px per frame
VERBS = {0: ("push", "pushes", (1, 0)), 2: ("lower", "lowers", (0, 1)), 3: ("pull", "pulls", (-1, 0)),
         11: ("lift", "lifts", (0, -1))}  # class id: word, third person, direction (dx, dy), y down
NOUNS = {1: "plate", 2: "box", 10: "fork", 12: "knife"}
COLOURS = {1: (230, 230, 230), 2: (230, 170, 40), 10: (60, 200, 90), 12: (80, 140, 250)}
TWO_NOUN_SHARE = 0.2
SEGMENT_SECONDS, GAP_SECONDS = (1.0, 2.0), (0.0, 0.4)
EGO4D_VIDEOS, EGO4D_SECONDS = 24, ((8, 14), (17, 24))  # one video in three of the longer kind
EK100_VIDEOS, EK100_SECONDS = {"train": 12, "validation": 6}, (14, 22)
EGOSCHEMA_QUESTIONS, EGOSCHEMA_ANSWERED, EGOSCHEMA_SECONDS = 30, 20, (4, 8)
EGO4D_TEMPLATES = ("#C C {verb} {the_nouns}", "#C C {verb} {nouns}", "{verb} {the_nouns}", "#C C {verbs} {the_nouns}")


def _shape(noun: int) -> np.ndarray:
    """7 x 7 mask per noun: plate a ring, box a filled square, fork a plus, knife a diagonal."""
    y, x = np.mgrid[-3:4, -3:4]
    return {1: (np.hypot(y, x) >= 2) & (np.hypot(y, x) <= 3.2), 2: np.ones((7, 7), bool),
            10: (np.abs(y) <= 1) | (np.abs(x) <= 1), 12: np.abs(y - x) <= 1}[noun]


SHAPES = {n: np.argwhere(_shape(n)) - 3 for n in NOUNS}  # pixel offsets from the centre


def render(rng: np.random.Generator, num_frames: int, actions) -> np.ndarray:
    """(num_frames, SIZE, SIZE, 3) uint8. actions: (start_frame, end_frame, verb, nouns) during which the nouns
    move in the verb's direction (frame t + 1 shows the move made at frame t)."""
    start = {n: rng.uniform(0, SIZE, 2) for n in NOUNS}  # (x, y)
    background = rng.uniform(20, 70, 3)
    tint = rng.uniform(-20, 20, 3)
    video = np.empty((num_frames, SIZE, SIZE, 3), np.uint8)
    video[:] = background.astype(np.uint8)
    frames = np.arange(num_frames)[:, None]
    for n in NOUNS:  # fixed drawing order: overlaps never tell which object moves
        moves = np.zeros((num_frames, 2))
        for first, last, verb, nouns in actions:
            if n in nouns:
                moves[first:last] = np.array(VERBS[verb][2]) * SPEED
        position = np.round(start[n] + np.concatenate([np.zeros((1, 2)), np.cumsum(moves, 0)[:-1]])).astype(int)
        rows = (position[:, 1:] + SHAPES[n][None, :, 0]) % SIZE
        cols = (position[:, :1] + SHAPES[n][None, :, 1]) % SIZE
        video[frames, rows, cols] = np.clip(np.array(COLOURS[n]) + tint, 0, 255).astype(np.uint8)
    return video


def write_mp4(path: str, frames: np.ndarray) -> None:
    """H.264 (yuv420p) at FPS: the same bytes in every process. That takes one encoder thread and no lookahead
    (x264's rate-control lookahead and macroblock tree gave different bytes across runs on these tiny frames)."""
    import av

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with av.open(path, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = SIZE, SIZE, "yuv420p"
        stream.codec_context.thread_count = 1
        stream.options = {"crf": "12", "preset": "veryfast", "x264-params": "rc-lookahead=0:mbtree=0"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def write_chunks(directory: str, frames: np.ndarray) -> None:
    for k in range(0, len(frames), CHUNK_FRAMES):
        write_mp4(os.path.join(directory, f"{k // CHUNK_FRAMES:04d}.mp4"), frames[k:k + CHUNK_FRAMES])


def draw_action(rng: np.random.Generator):
    """(verb, nouns): one noun, or two in TWO_NOUN_SHARE of the actions."""
    verb = int(rng.choice(list(VERBS)))
    count = 2 if rng.random() < TWO_NOUN_SHARE else 1
    return verb, [int(n) for n in rng.choice(list(NOUNS), count, replace=False)]


def timeline(rng: np.random.Generator, seconds: float, decimals: int):
    """Consecutive actions [(start_s, end_s, verb, nouns)] filling a video of `seconds`, times rounded."""
    out, t = [], round(float(rng.uniform(0.2, 0.5)), decimals)
    while True:
        end = round(t + float(rng.uniform(*SEGMENT_SECONDS)), decimals)
        if end > seconds - 0.1:
            return out
        out.append((t, end) + draw_action(rng))
        t = round(end + float(rng.uniform(*GAP_SECONDS)), decimals)


def action_frames(actions):
    return [(int(np.round(s * FPS)), int(np.round(e * FPS)), v, n) for s, e, v, n in actions]


def noun_words(nouns, article=""):
    return " and ".join(article + NOUNS[n] for n in nouns)


def ego4d_narration(rng, verb, nouns) -> str:
    word, third, _ = VERBS[verb]
    return EGO4D_TEMPLATES[rng.integers(len(EGO4D_TEMPLATES))].format(
        verb=word, verbs=third, nouns=noun_words(nouns), the_nouns=noun_words(nouns, "the "))


def write_ego4d(rng, root: str) -> None:
    entries = []
    for v in range(EGO4D_VIDEOS):
        uid = "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}".format(*(int(rng.integers(16 ** k)) for k in (8, 4, 3, 4, 12)))
        seconds = float(rng.uniform(*EGO4D_SECONDS[v % 3 == 2]))
        actions = timeline(rng, seconds, 3)
        write_chunks(os.path.join(root, "videos", uid), render(rng, int(seconds * FPS), action_frames(actions)))
        for start, end, verb, nouns in actions:
            narration = ego4d_narration(rng, verb, nouns)
            if rng.random() < 1 / 3:
                narration = [narration, ego4d_narration(rng, verb, nouns)]
            entries.append((uid, start, end, narration))
    with open(os.path.join(root, "ego4d_train.pkl"), "wb") as f:
        pickle.dump(entries, f, protocol=4)


def timestamp(seconds: float, decimals: int) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes // 60):02d}:{int(minutes % 60):02d}:{rest:0{3 + decimals}.{decimals}f}"


def csv_line(values) -> str:
    """One csv row, quoted where a value holds a comma (as the official files are)."""
    return ",".join(f'"{v}"' if "," in str(v) else str(v) for v in values) + "\n"


EK100_COLUMNS = ("narration_id", "participant_id", "video_id", "narration_timestamp", "start_timestamp",
                 "stop_timestamp", "start_frame", "stop_frame", "narration", "verb", "verb_class", "noun", "noun_class",
                 "all_nouns", "all_noun_classes")


def relevancy(clips, sentences) -> np.ndarray:
    """The official rule: mean of the verb-class IoU and the noun-class IoU. clips / sentences: (verb, nouns)."""
    out = np.zeros((len(clips), len(sentences)))
    for i, (verb, nouns) in enumerate(clips):
        for j, (s_verb, s_nouns) in enumerate(sentences):
            out[i, j] = 0.5 * (verb == s_verb) + 0.5 * len(set(nouns) & set(s_nouns)) / len(set(nouns) | set(s_nouns))
    return out


def write_ek100(rng, root: str) -> None:
    ann = os.path.join(root, "epic-kitchens-100-annotations")
    retrieval = os.path.join(ann, "retrieval_annotations")
    os.makedirs(os.path.join(retrieval, "relevancy"))
    uid, video_number = 0, 0
    for split, mir_split in (("train", "train"), ("validation", "test")):
        rows = []
        for v in range(EK100_VIDEOS[split]):
            participant = f"P{v % 4 + 1:02d}"
            video_number += 1
            video_id = f"{participant}_{100 + video_number}"
            seconds = float(rng.uniform(*EK100_SECONDS))
            actions = timeline(rng, seconds, 2)
            frames = render(rng, int(seconds * FPS), action_frames(actions))
            write_chunks(os.path.join(root, "videos", video_id), frames)
            for i, (start, end, verb, nouns) in enumerate(actions):
                narration = f"{VERBS[verb][0]} {noun_words(nouns)}"
                rows.append(dict(narration_id=f"{video_id}_{i}", participant_id=participant, video_id=video_id,
                                 narration_timestamp=timestamp((start + end) / 2, 3),
                                 start_timestamp=timestamp(start, 2), stop_timestamp=timestamp(end, 2),
                                 start_frame=int(start * FPS) + 1, stop_frame=int(end * FPS),
                                 narration=narration, verb=VERBS[verb][0], verb_class=verb, noun=NOUNS[nouns[0]],
                                 noun_class=nouns[0], all_nouns=str([NOUNS[n] for n in nouns]),
                                 all_noun_classes=str(nouns), nouns=nouns))
        with open(os.path.join(ann, f"EPIC_100_{split}.csv"), "w") as f:
            f.write(",".join(EK100_COLUMNS) + "\n")
            f.writelines(csv_line(r[c] for c in EK100_COLUMNS) for r in rows)
        with open(os.path.join(retrieval, f"EPIC_100_retrieval_{mir_split}.csv"), "w") as f:
            f.write(",".join(("uid",) + EK100_COLUMNS) + "\n")
            for r in rows:
                f.write(csv_line([uid] + [r[c] for c in EK100_COLUMNS]))
                uid += 1
        first = {}
        for r in rows:  # a sentence per distinct caption, named by a clip that carries it
            first.setdefault(r["narration"], r)
        sentences = sorted(first.values(), key=lambda r: r["narration_id"])
        with open(os.path.join(retrieval, f"EPIC_100_retrieval_{mir_split}_sentence.csv"), "w") as f:
            if mir_split == "train":
                f.write("index,narration,verb_class,noun_classes,verb,nouns\n")
                f.writelines(csv_line([s["narration_id"], s["narration"], s["verb_class"], s["all_noun_classes"],
                                       s["verb"], s["all_nouns"]]) for s in sentences)
            else:
                f.write("index,sentence\n")
                f.writelines(csv_line([s["narration_id"], s["narration"]]) for s in sentences)
        matrix = relevancy([(r["verb_class"], r["nouns"]) for r in rows],
                           [(s["verb_class"], s["nouns"]) for s in sentences])
        with open(os.path.join(retrieval, "relevancy", f"caption_relevancy_EPIC_100_retrieval_{mir_split}.pkl"),
                  "wb") as f:
            pickle.dump(matrix, f, protocol=4)


def egoschema_options(rng, verb, nouns):
    """The correct (verb, nouns) and four distinct others, two of them sharing its verb or its nouns."""
    pool = [(v, [n]) for v in VERBS for n in NOUNS if (v, [n]) != (verb, nouns)]
    near = [p for p in pool if p[0] == verb or p[1] == nouns]
    far = [p for p in pool if p not in near]
    picks = [near[i] for i in rng.choice(len(near), 2, replace=False)] + [far[i] for i in
                                                                           rng.choice(len(far), 2, replace=False)]
    options = [(verb, nouns)] + picks
    order = rng.permutation(len(options))
    return [options[i] for i in order], int(np.flatnonzero(order == 0)[0])


def write_egoschema(rng, root: str) -> None:
    questions, answers = [], {}
    for q in range(EGOSCHEMA_QUESTIONS):
        q_uid = "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}".format(*(int(rng.integers(16 ** k)) for k in (8, 4, 3, 4, 12)))
        num_frames = int(rng.uniform(*EGOSCHEMA_SECONDS) * FPS)
        verb, nouns = draw_action(rng)
        nouns = nouns[:1]
        write_mp4(os.path.join(root, "videos", f"{q_uid}.mp4"), render(rng, num_frames, [(0, num_frames, verb, nouns)]))
        options, answer = egoschema_options(rng, verb, nouns)
        drive_id = "".join(rng.choice(list("abcdefghijkmnopqrstuvwxyzABCDEFGH0123456789_-"), 33))
        item = {"q_uid": q_uid, "google_drive_id": drive_id,
                "question": "What does C do with the object that moves in the video?"}
        item.update({f"option {k}": f"C {VERBS[v][1]} the {noun_words(n)}" for k, (v, n) in enumerate(options)})
        questions.append(item)
        if q < EGOSCHEMA_ANSWERED:
            answers[q_uid] = answer
    with open(os.path.join(root, "questions.json"), "w") as f:
        json.dump(questions, f)
    with open(os.path.join(root, "subset_answers.json"), "w") as f:
        json.dump(answers, f)


def make_toy_data(out_dir: str, seed: int = 0) -> None:
    """Write the toy set under `out_dir` (built aside and renamed: never half-written)."""
    rng = np.random.default_rng(seed)
    with built_aside(out_dir) as partial:
        write_ego4d(rng, os.path.join(partial, "ego4d"))
        write_ek100(rng, os.path.join(partial, "ek100"))
        write_egoschema(rng, os.path.join(partial, "egoschema"))
