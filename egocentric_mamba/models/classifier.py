"""The suite's EK100 action classifier (egocentric-understanding/avion/models/model_clip.py `VideoClassifier`): a
visual tower without its image_projection (features = the tower's embed_dims-wide output), dropout, and `fc_cls`
over the 3,806 actions (N(0, 0.01) weights, zero bias). State dict: visual.*, fc_cls.*, as upstream's.

forward(inputs, data_samples, mode):
    inputs        clips (B, 3, T, H, W), float, already normalised
    data_samples  one dict per clip: `label`, the action id (for "loss"); the other entries are copied into predictions
    "tensor"      logits (B, num_classes)
    "loss"        soft-target cross-entropy; with `mixup` the batch is first mixed (BatchMixup: timm's batch mixup /
                  cutmix, see mixup.py), targets smoothed by label_smoothing either way
    "predict"     one dict per clip: logits (num_classes,) on the CPU, and the sample's other entries
"""
import torch
from mmengine.model import BaseModel
from torch import nn

from common.checks import check_labels
from common.engine import MODELS
from .dual_encoder import build_in_root, sample_extras
from .losses import soft_target_cross_entropy
from .mixup import BatchMixup, smoothed_one_hot


@MODELS.register_module()
class VideoClassifier(BaseModel):
    """Args: visual: the tower's config (its output_dim is set to None); num_classes (3,806 actions); dropout before
    fc_cls (0.5); label_smoothing (0.1); mixup: BatchMixup's arguments (the suite's: dict(mixup_alpha=0.8,
    cutmix_alpha=1.0, prob=1.0, switch_prob=0.5)) or None for none."""

    def __init__(self, visual: dict, num_classes=3806, dropout=0.5, label_smoothing=0.1, mixup: dict | None = None,
                 data_preprocessor=None, init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.visual = build_in_root(visual, output_dim=None)
        self.dropout = nn.Dropout(dropout)
        self.fc_cls = nn.Linear(self.visual.embed_dims, num_classes)
        nn.init.normal_(self.fc_cls.weight, std=0.01)
        nn.init.zeros_(self.fc_cls.bias)
        self.num_classes, self.label_smoothing = num_classes, label_smoothing
        self.mixup = None if mixup is None else BatchMixup(num_classes, label_smoothing=label_smoothing, **mixup)

    def logits(self, clips):
        if not torch.is_tensor(clips) or clips.dim() != 5 or not clips.is_floating_point():
            raise ValueError("inputs must be a float tensor of clips (B, 3, T, H, W), got "
                             f"{type(clips).__name__} {tuple(getattr(clips, 'shape', ()))}")
        return self.fc_cls(self.dropout(self.visual(clips)))

    def forward(self, inputs, data_samples=None, mode="tensor"):
        if mode == "tensor":
            return self.logits(inputs)
        if mode == "loss":
            labels = [torch.as_tensor(s["label"]).item() for s in data_samples]
            labels = torch.as_tensor(check_labels(labels, self.num_classes, "VideoClassifier", "data sample labels"),
                                     device=inputs.device)
            if self.mixup is not None:
                inputs, target = self.mixup(inputs, labels)
            else:
                target = smoothed_one_hot(labels, self.num_classes, self.label_smoothing)
            return dict(loss=soft_target_cross_entropy(self.logits(inputs), target))
        if mode == "predict":
            logits = self.logits(inputs).detach().cpu()
            return [dict(sample_extras(sample), logits=logits[i]) for i, sample in enumerate(data_samples)]
        raise ValueError(f"unknown mode {mode!r} (expected 'tensor', 'loss' or 'predict')")
