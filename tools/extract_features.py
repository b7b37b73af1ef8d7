"""Turn a folder of videos into per-video feature files, with any backbone config + checkpoint of videomamba_st.

    python tools/extract_features.py CONFIG CHECKPOINT VIDEO_DIR OUT_DIR [--stride S] [--frame-interval I]
                                     [--layout tc|ct] [--batch-clips N] [--ext .mp4 ...]

For every video file in VIDEO_DIR (sorted; extensions --ext) one clip starts every --stride frames: clip t covers the
frames t * stride + i * frame_interval, i < clip_len (clip_len = the config's backbone num_frames; the end of a
video repeats its last frame, so a video shorter than a clip still gives one feature). Each clip goes through the
config's test pipeline (its resize and centre crop; ThreeCrop / TenCrop become one centre crop) and the backbone,
whose output (one vector per clip) is one row of OUT_DIR/<video name>.npy:
    --layout tc   float32 (T, C)   ActionFormer / ActionMamba's layout (feat_stride = stride, num_frames = the
                                   clip span); the default
    --layout ct   float32 (C, T)   MS-TCN / ASFormer / ASMamba's layout
OUT_DIR/features.json records the config, checkpoint, fps of each video, stride, clip span and layout. Files are
written atomically; existing ones are skipped, so an interrupted run continues where it stopped.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import common  # noqa: E402,F401  (before torch: OpenMP wait policy)
import numpy as np  # noqa: E402
import torch  # noqa: E402

SAMPLERS = ("SampleFrames", "UniformSample", "DenseSampleFrames", "UntrimmedSampleFrames")
MULTI_CROPS = ("ThreeCrop", "TenCrop")


def clip_pipeline(test_pipeline):
    """The config's test pipeline for given frame indices: its sampler dropped, multi-crop made one centre crop."""
    from mmengine.dataset import Compose
    from mmengine.registry import DefaultScope
    steps = []
    for step in test_pipeline:
        step = dict(step)
        if step["type"] in SAMPLERS:
            continue
        if step["type"] in MULTI_CROPS:
            step = dict(type="CenterCrop", crop_size=step["crop_size"])
        steps.append(step)
    with DefaultScope.overwrite_default_scope("mmaction"):
        return Compose(steps)


def clip_starts(num_frames: int, span: int, stride: int) -> list:
    return list(range(0, max(num_frames - span, 0) + 1, stride))


def extract_video(model, pipeline, path, clip_len, frame_interval, stride, batch_clips):
    """(T, C) float32 features of one video, and its fps."""
    import decord
    reader = decord.VideoReader(path)
    num_frames, fps = len(reader), reader.get_avg_fps()
    del reader
    span = (clip_len - 1) * frame_interval + 1
    starts = clip_starts(num_frames, span, stride)
    offsets = np.arange(clip_len) * frame_interval
    device = next(model.parameters()).device
    feats = []
    for first in range(0, len(starts), batch_clips):
        batch = starts[first:first + batch_clips]
        inds = np.minimum(np.concatenate([s + offsets for s in batch]), num_frames - 1)
        data = pipeline(dict(filename=path, start_index=0, modality="RGB", frame_inds=inds, clip_len=clip_len,
                             frame_interval=frame_interval, num_clips=len(batch), label=-1))
        data = model.data_preprocessor(dict(inputs=[data["inputs"]], data_samples=[data["data_samples"]]))
        inputs = data["inputs"].to(device)
        with torch.no_grad():
            feats.append(model.backbone(inputs.flatten(0, 1)).float().cpu())
    return torch.cat(feats).numpy(), fps


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config")
    parser.add_argument("checkpoint", help="a checkpoint of the config's model (tools/train.py, convert_checkpoint.py)")
    parser.add_argument("video_dir")
    parser.add_argument("out_dir")
    parser.add_argument("--stride", type=int, default=None, help="frames between clip starts (default: clip span)")
    parser.add_argument("--frame-interval", type=int, default=1, help="frames between a clip's frames")
    parser.add_argument("--layout", choices=("tc", "ct"), default="tc")
    parser.add_argument("--batch-clips", type=int, default=8, help="clips per backbone call")
    parser.add_argument("--ext", nargs="+", default=[".mp4", ".avi", ".mkv", ".webm", ".mov"])
    args = parser.parse_args(argv)

    from common.engine import MODELS, atomic_write_text, load_config
    cfg = load_config(args.config)
    model = MODELS.build(cfg.model).eval()
    checkpoint = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    model.load_state_dict(checkpoint.get("state_dict", checkpoint), strict=True)
    if torch.cuda.is_available():
        model = model.cuda()
    clip_len = cfg.model.backbone.num_frames
    span = (clip_len - 1) * args.frame_interval + 1
    stride = args.stride or span
    pipeline = clip_pipeline(cfg.test_dataloader.dataset.pipeline)
    videos = sorted(f for f in os.listdir(args.video_dir) if os.path.splitext(f)[1].lower() in args.ext)
    if not videos:
        raise SystemExit(f"error: no video ({', '.join(args.ext)}) in {args.video_dir}")
    os.makedirs(args.out_dir, exist_ok=True)
    fps = {}
    for i, name in enumerate(videos):
        out = os.path.join(args.out_dir, os.path.splitext(name)[0] + ".npy")
        if os.path.exists(out):
            continue
        feats, fps[name] = extract_video(model, pipeline, os.path.join(args.video_dir, name), clip_len,
                                         args.frame_interval, stride, args.batch_clips)
        if not np.isfinite(feats).all():
            raise SystemExit(f"error: {name}: the backbone gave NaN / Inf features")
        tmp = os.path.join(args.out_dir, f".{os.path.basename(out)}.partial.npy")
        np.save(tmp, (feats if args.layout == "tc" else feats.T).astype(np.float32))
        os.replace(tmp, out)
        print(f"[{i + 1}/{len(videos)}] {name}: {feats.shape[0]} clips x {feats.shape[1]}", flush=True)
    manifest = os.path.join(args.out_dir, "features.json")
    previous = json.load(open(manifest)) if os.path.exists(manifest) else {}
    atomic_write_text(manifest, json.dumps(dict(
        config=args.config, checkpoint=args.checkpoint, layout=args.layout, feat_stride=stride,
        num_frames=span, clip_len=clip_len, frame_interval=args.frame_interval,
        fps={**previous.get("fps", {}), **fps}), indent=1))
    print(f"features of {len(videos)} videos in {args.out_dir}")


if __name__ == "__main__":
    main()
