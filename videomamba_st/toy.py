"""A small synthetic video set in the Kinetics list format, where only the order of frames tells the class.

    OUT/videos_train/*.mp4, OUT/videos_val/*.mp4   32 frames, 64 x 64, H.264 (PyAV / FFmpeg's libx264)
    OUT/train_list_videos.txt, OUT/val_list_videos.txt   "<video file> <class id>" per line (mmaction2's
                                                         VideoDataset, as kinetics400_*_list_videos.txt)
    OUT/label_map.txt                                    class names, line i = class i

Each video's background shows three colours (red, green, blue) for a third of the video each, in one of the 6
orders, while a light square moves right or left with wrap-around: 12 classes, order x direction. The square's
position and shade and the colours' exact tints are drawn independently of the class, every colour fills a third of
every video and the motion wraps around, so every single frame has the same distribution under every class: a model
that sees one frame is at chance (1/12), and so is a bag of frames without their order. Telling the colour order
takes the frames' order; telling the direction takes motion.
"""
import itertools
import os
import shutil

import numpy as np

PALETTE = {"red": (200, 40, 40), "green": (40, 170, 60), "blue": (50, 70, 210)}
ORDERS = tuple(itertools.permutations(PALETTE))
DIRECTIONS = {"right": 1, "left": -1}
CLASSES = tuple(f"{'-'.join(order)}/{direction}" for order in ORDERS for direction in DIRECTIONS)
FRAMES, SIZE, FPS = 32, 64, 8
SQUARE, SPEED = 16, 2.0  # side in pixels, pixels per frame
VIDEOS_PER_CLASS = {"train": 40, "val": 10}


def render(label: int, rng: np.random.Generator) -> np.ndarray:
    """One video of class `label`: (FRAMES, SIZE, SIZE, 3) uint8. The background shows the order's three colours
    for a third of the video each; a light square moves right or left with wrap-around."""
    order, direction = CLASSES[label].split("/")
    colours = [np.array(PALETTE[name]) + rng.uniform(-25, 25, size=3) for name in order.split("-")]
    shade = rng.uniform(190, 255)
    y, x = rng.uniform(0, SIZE, size=2)
    rows, cols = np.arange(SIZE)[:, None], np.arange(SIZE)[None, :]
    video = np.empty((FRAMES, SIZE, SIZE, 3), np.uint8)
    for t in range(FRAMES):
        background = colours[t * len(colours) // FRAMES]
        left = x + DIRECTIONS[direction] * SPEED * t
        inside = (((rows - y) % SIZE) < SQUARE) & (((cols - left) % SIZE) < SQUARE)  # wraps around the edges
        frame = np.where(inside[..., None], shade, background) + rng.normal(0, 4, size=(SIZE, SIZE, 3))
        video[t] = np.clip(frame, 0, 255)
    return video


def write_mp4(path: str, video: np.ndarray, fps: int = FPS) -> None:
    """(T, H, W, 3) uint8 RGB -> H.264 mp4 (yuv420p)."""
    import av

    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = video.shape[2], video.shape[1], "yuv420p"
        stream.options = {"crf": "18"}
        for frame in video:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def make_toy_data(out_dir: str, seed: int = 0) -> None:
    """Write the toy set under `out_dir` (built in a sibling directory and renamed: never half-written)."""
    out_dir = os.path.normpath(out_dir)
    if os.path.exists(out_dir) and os.listdir(out_dir):
        raise FileExistsError(f"{out_dir} exists and is not empty")
    partial = out_dir + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    rng = np.random.default_rng(seed)
    for split, per_class in VIDEOS_PER_CLASS.items():
        os.makedirs(os.path.join(partial, f"videos_{split}"))
        lines = []
        for i in range(per_class * len(CLASSES)):
            label = i % len(CLASSES)
            name = f"{split}_{i:04d}.mp4"
            write_mp4(os.path.join(partial, f"videos_{split}", name), render(label, rng))
            lines.append(f"{name} {label}\n")
        with open(os.path.join(partial, f"{split}_list_videos.txt"), "w") as f:
            f.writelines(lines)
    with open(os.path.join(partial, "label_map.txt"), "w") as f:
        f.write("\n".join(CLASSES) + "\n")
    if os.path.exists(out_dir):
        os.rmdir(out_dir)
    os.rename(partial, out_dir)
