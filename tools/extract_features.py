"""Turn a folder of videos into per-video feature files, with any backbone config + checkpoint of videomamba_st.

    python tools/extract_features.py CONFIG CHECKPOINT VIDEO_DIR OUT_DIR [--stride S] [--frame-interval I]
                                     [--layout tc|ct] [--batch-clips N] [--ext .mp4 ...] [--redo]

For every video file in VIDEO_DIR (sorted; extensions --ext) one clip starts every --stride frames: clip t covers the
frames t * stride + i * frame_interval, i < clip_len (clip_len = the config's backbone num_frames; the end of a
video repeats its last frame, so a video shorter than a clip still gives one feature). Each clip goes through the
config's test pipeline (its resize and centre crop; ThreeCrop / TenCrop become one centre crop) and the backbone,
whose output (one vector per clip) is one row of OUT_DIR/<video name>.npy:
    --layout tc   float32 (T, C)   ActionFormer / ActionMamba's layout (feat_stride = stride, num_frames = the
                                   clip span); the default
    --layout ct   float32 (C, T)   MS-TCN / ASFormer / ASMamba's layout
OUT_DIR/features.json records the settings (config, checkpoint, their digests, stride, clip span, layout) and the
fps of each finished video. The folder is built aside, in .OUT_DIR.partial next to it, and renamed to OUT_DIR when
every video is done: OUT_DIR is complete or absent. A killed run continues where it stopped when rerun with the
same settings (each video's file and record are written atomically); other settings than the folder's are an
error, or with --redo a new folder that replaces the old one when it is complete. Videos added to VIDEO_DIR later
are extracted into OUT_DIR with its settings.
"""
import argparse
import hashlib
import json
import os
import shutil
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
    try:
        reader = decord.VideoReader(path)
    except Exception as err:  # decord names a byte count or a codec, not the file
        raise SystemExit(f"error: {path}: cannot decode the video ({str(err).splitlines()[0] if str(err) else err!r})")
    num_frames, fps = len(reader), reader.get_avg_fps()
    del reader
    if num_frames < 1 or not fps > 0:
        raise SystemExit(f"error: {path}: {num_frames} frames at {fps} fps; expected a video with frames and a frame rate")
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


# What makes two extractions give the same features: compared, never the paths (a moved file is the same file).
SETTINGS = ("config_sha256", "checkpoint_sha256", "layout", "feat_stride", "num_frames", "clip_len", "frame_interval")
MANIFEST = "features.json"


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder: str) -> dict | None:
    from common.io import load_json
    path = os.path.join(folder, MANIFEST)
    if not os.path.isfile(path):
        return None
    manifest = load_json(path, "feature manifest")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("fps"), dict):
        raise SystemExit(f"error: {path}: not a features.json this tool writes (no per-video fps record)")
    return manifest


def differences(manifest: dict, settings: dict) -> list:
    return [f"{k}: {manifest.get(k, 'not recorded')} there, {settings[k]} now" for k in SETTINGS
            if manifest.get(k) != settings[k]]


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
    parser.add_argument("--redo", action="store_true",
                        help="OUT_DIR holds features of other settings: extract every video anew and replace it")
    args = parser.parse_args(argv)
    if (args.stride is not None and args.stride < 1) or args.frame_interval < 1 or args.batch_clips < 1:
        parser.error("--stride, --frame-interval and --batch-clips must be positive")
    try:
        extract(args)
    except (FileNotFoundError, ValueError) as err:  # a missing or damaged input, named
        raise SystemExit(f"error: {err}")


def extract(args):
    from common.engine import (MODELS, atomic_write_text, check_finite_weights, load_config, model_state_dict,
                               read_checkpoint, state_dict_mismatches)
    cfg = load_config(args.config)
    checkpoint = read_checkpoint(args.checkpoint)
    check_finite_weights(checkpoint, args.checkpoint)
    model = MODELS.build(cfg.model).eval()
    state = model_state_dict(checkpoint)
    problems = state_dict_mismatches(state, model)
    if problems:
        raise SystemExit(f"error: checkpoint {args.checkpoint} does not fit the model of {args.config}: "
                         + "; ".join(problems[:5]))
    model.load_state_dict(state, strict=True)
    if torch.cuda.is_available():
        model = model.cuda()
    clip_len = cfg.model.backbone.num_frames
    span = (clip_len - 1) * args.frame_interval + 1
    stride = args.stride or span
    test_pipeline = cfg.test_dataloader.dataset.pipeline
    pipeline = clip_pipeline(test_pipeline)
    videos = sorted(f for f in os.listdir(args.video_dir) if os.path.splitext(f)[1].lower() in args.ext)
    if not videos:
        raise SystemExit(f"error: no video ({', '.join(args.ext)}) in {args.video_dir}")
    what_computes = json.dumps(dict(model=cfg.model.to_dict(), pipeline=[dict(step) for step in test_pipeline]),
                               sort_keys=True, default=str)
    settings = dict(config=args.config, config_sha256=hashlib.sha256(what_computes.encode()).hexdigest(),
                    checkpoint=args.checkpoint, checkpoint_sha256=sha256_of(args.checkpoint), layout=args.layout,
                    feat_stride=stride, num_frames=span, clip_len=clip_len, frame_interval=args.frame_interval)

    out = os.path.normpath(args.out_dir)
    partial = os.path.join(os.path.dirname(os.path.abspath(out)), f".{os.path.basename(out)}.partial")
    existing = read_manifest(out) if os.path.isdir(out) and os.listdir(out) else None
    if os.path.isdir(out) and os.listdir(out) and existing is None:
        raise SystemExit(f"error: {out} is not empty and has no {MANIFEST}: not a feature folder of this tool")
    stale = existing is not None and differences(existing, settings)
    if stale and not args.redo:
        raise SystemExit(f"error: {out} holds features extracted with other settings ({'; '.join(stale)}); they are "
                         "never mixed: extract into another OUT_DIR, or pass --redo to replace them")
    if existing is not None and not stale and all(v in existing["fps"] for v in videos):
        print(f"features of all {len(videos)} videos already in {out}, with these settings")
        return
    manifest = read_manifest(partial) if os.path.isdir(partial) else None
    if manifest is not None and differences(manifest, settings):
        if not args.redo:
            raise SystemExit(f"error: {partial} holds an interrupted extraction with other settings "
                             f"({'; '.join(differences(manifest, settings))}): rerun with those, or pass --redo")
        manifest = None
    if manifest is None:
        shutil.rmtree(partial, ignore_errors=True)
        if existing is not None and not stale:  # new videos for a complete folder: extend it aside
            shutil.copytree(out, partial)
            manifest = existing
        else:
            os.makedirs(partial)
            manifest = dict(settings, fps={})
    manifest.update(settings)  # the paths of this run; the digests are the same
    atomic_write_text(os.path.join(partial, MANIFEST), json.dumps(manifest, indent=1))
    for i, name in enumerate(videos):
        if name in manifest["fps"]:
            continue
        feats, fps = extract_video(model, pipeline, os.path.join(args.video_dir, name), clip_len,
                                   args.frame_interval, stride, args.batch_clips)
        if not np.isfinite(feats).all():
            raise SystemExit(f"error: {name}: the backbone gave NaN / Inf features")
        target = os.path.join(partial, os.path.splitext(name)[0] + ".npy")
        tmp = os.path.join(partial, f".{os.path.basename(target)}.partial.npy")
        np.save(tmp, (feats if args.layout == "tc" else feats.T).astype(np.float32))
        os.replace(tmp, target)
        manifest["fps"][name] = fps  # recorded after its file: a listed video is a finished one
        atomic_write_text(os.path.join(partial, MANIFEST), json.dumps(manifest, indent=1))
        print(f"[{i + 1}/{len(videos)}] {name}: {feats.shape[0]} clips x {feats.shape[1]}", flush=True)
    if os.path.isdir(out):
        old = os.path.join(os.path.dirname(os.path.abspath(out)), f".{os.path.basename(out)}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.rename(out, old)
        os.rename(partial, out)
        shutil.rmtree(old)
    else:
        os.rename(partial, out)
    print(f"features of {len(videos)} videos in {out}")


if __name__ == "__main__":
    main()
