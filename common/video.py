"""Reading video files, with every failure named by its file (PyAV).

`probe_video` opens a file and reads its frame count and rate (data sets call it on every listed video
before the first epoch, through `probe_videos`, so a broken file stops a run at start-up, not after an epoch
of training); `read_frames` decodes frames by index; `read_chunked_frames` does so across a video cut into
fixed-length chunk files (Ego4D / EK100 as AVION stores them: 15 s files at 30 fps). A file that cannot be
opened or decoded is an `InputError` naming the path and the decoder's reason, never a silent substitute sample.
"""
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable, List, Optional, Sequence

import numpy as np

from .checks import InputError


@lru_cache(maxsize=None)
def _to_rgb_options() -> dict:
    """PyAV >= 17 converts pixels on a pool of swscale threads by default; a data-loader worker forked after the
    parent process converted frames hangs in that pool for good. One conversion thread, the calling one, is safe."""
    import av

    return dict(format="rgb24", threads=1) if int(av.__version__.split(".")[0]) >= 17 else dict(format="rgb24")


@dataclass(frozen=True)
class VideoInfo:
    path: str
    num_frames: int
    fps: float
    height: int
    width: int

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps


def _open(path: str):
    import av

    try:
        container = av.open(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: video not found") from None
    except Exception as err:  # av.error.* for empty, truncated or foreign files
        raise InputError(f"{path}: cannot open the video ({type(err).__name__}: {err})") from None
    if not container.streams.video:
        container.close()
        raise InputError(f"{path}: holds no video stream")
    return container


def probe_video(path: str, count: bool = False) -> VideoInfo:
    """Frame count, frame rate and size of one video. `count=True` decodes every frame to count them
    (containers may state no or a wrong count); otherwise the stream's stated count is used and, where the
    container states none, the frames are counted."""
    container = _open(path)
    try:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        if not fps > 0:
            raise InputError(f"{path}: the video states no frame rate")
        frames = 0 if count else int(stream.frames or 0)
        if frames == 0:
            try:
                frames = sum(1 for _ in container.decode(stream))
            except Exception as err:
                raise InputError(f"{path}: decoding failed after {frames} frames ({type(err).__name__}: "
                                 f"{err})") from None
        if frames == 0:
            raise InputError(f"{path}: no decodable frames")
        return VideoInfo(path, frames, fps, stream.codec_context.height, stream.codec_context.width)
    finally:
        container.close()


def probe_videos(paths: Sequence[str], where: Optional[Sequence[str]] = None,
                 workers: Optional[int] = None) -> List[VideoInfo]:
    """`probe_video` of every path, in threads (PyAV opens and parses files without holding the GIL: 2 threads
    probe twice as fast on 2 cores). The first failure in list order is raised, its message prefixed by the
    matching `where` entry (the list file and line that names the video, say)."""
    def probe(path):
        try:
            return probe_video(path)
        except (InputError, FileNotFoundError) as err:
            return err

    with ThreadPoolExecutor(workers or min(16, os.cpu_count() or 1)) as pool:
        infos = list(pool.map(probe, paths))
    for i, info in enumerate(infos):
        if isinstance(info, Exception):
            raise type(info)(f"{where[i]}: {info}" if where else str(info)) from None
    return infos


def read_frames(path: str, indices: Sequence[int]) -> np.ndarray:
    """Frames `indices` (any order, repeats allowed) as a uint8 (len(indices), H, W, 3) RGB array, decoded in
    one forward pass. An index past the last frame is an error naming the file and the frame count."""
    indices = np.asarray(indices, dtype=np.int64)
    if indices.size == 0:
        raise ValueError(f"{path}: no frame indices to read")
    if indices.min() < 0:
        raise InputError(f"{path}: negative frame index {int(indices.min())}")
    wanted, last = set(indices.tolist()), int(indices.max())
    frames, decoded = {}, 0
    container = _open(path)
    try:
        for frame in _decode(container, path):
            if decoded in wanted:
                frames[decoded] = frame.to_ndarray(**_to_rgb_options())
            decoded += 1
            if decoded > last:
                break
    finally:
        container.close()
    if last not in frames:
        raise InputError(f"{path}: frame {last} requested, the video has {decoded} decodable frames")
    return np.stack([frames[i] for i in indices.tolist()])


def read_chunked_frames(chunk_path: Callable[[int], str], indices: Sequence[int], frames_per_chunk: int) -> np.ndarray:
    """Frames by absolute index (any order, repeats allowed) of a video stored as consecutive chunk files of
    `frames_per_chunk` frames each: absolute frame f is frame f - k * frames_per_chunk of chunk k =
    f // frames_per_chunk, whose file is `chunk_path(k)`. Each chunk needed is decoded once; errors name the
    chunk file (an index past a short last chunk is one)."""
    indices = np.asarray(indices, dtype=np.int64)
    if indices.size == 0 or indices.min() < 0:
        raise ValueError(f"{chunk_path(0)}: expected non-negative frame indices, found {indices.tolist()[:5]}")
    chunks = indices // frames_per_chunk
    out = None
    for chunk in np.unique(chunks).tolist():
        rows = np.flatnonzero(chunks == chunk)
        frames = read_frames(chunk_path(chunk), indices[rows] - chunk * frames_per_chunk)
        if out is None:
            out = np.empty((len(indices),) + frames.shape[1:], frames.dtype)
        elif frames.shape[1:] != out.shape[1:]:
            raise InputError(f"{chunk_path(chunk)}: frames of {frames.shape[2]}x{frames.shape[1]} px, the video's "
                             f"other chunks have {out.shape[2]}x{out.shape[1]}")
        out[rows] = frames
    return out


def _decode(container, path: str) -> Iterable:
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    decoded = 0
    try:
        for frame in container.decode(stream):
            decoded += 1
            yield frame
    except Exception as err:
        raise InputError(f"{path}: decoding failed after {decoded} frames ({type(err).__name__}: {err})") from None
