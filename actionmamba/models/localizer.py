"""ActionFormer's single-stage localiser as an mmengine model: backbone -> neck -> shared heads.

Every point of every pyramid level predicts class scores and its distances to the action's start and
end. Training assigns ground truth to points (centre sampling + per-level regression ranges) and uses
sigmoid focal + DIoU losses normalised by an EMA of the positive count. Inference decodes each level's
top-k points, runs soft-NMS and maps the grid back to seconds.
"""
import torch
import torch.nn.functional as F
from mmengine.model import BaseModel

from common.engine import MODELS
from ..datasets import grid_to_seconds
from .heads import ClassificationHead, RegressionHead, make_points
from .losses import diou_loss_1d, sigmoid_focal_loss
from .nms import batched_nms

THUMOS_REGRESSION_RANGE = ((0, 4), (4, 8), (8, 16), (16, 32), (32, 64), (64, 10000))
DEFAULT_TEST_CFG = dict(pre_nms_thresh=0.001, pre_nms_topk=2000, duration_thresh=0.05, min_score=0.001,
                        max_seg_num=200, nms_sigma=0.5, multiclass_nms=True, voting_thresh=0.75,
                        voting_iou_weighted=False)


def assign_targets(points, segments, labels, num_classes, center_radius):
    """Ground truth of one video on its points (ActionFormer's label assignment).

    points (P, 4) rows [t, reg_min, reg_max, stride]; segments (N, 2) on the feature grid; labels (N,).
    A point is positive for a segment when it lies within center_radius * stride of the segment centre
    (and inside the segment) and max(t - start, end - t) falls in its regression range. Among qualifying
    segments the shortest wins; segments within 1e-3 of that length add their class (multi-hot).
    Returns class targets (P, num_classes) and regression targets (P, 2) in units of the point's stride.
    """
    n_points = points.shape[0]
    if segments.numel() == 0:
        return points.new_zeros(n_points, num_classes), points.new_zeros(n_points, 2)
    t, reg_min, reg_max, stride = (points[:, i:i + 1] for i in range(4))
    start, end = segments[None, :, 0], segments[None, :, 1]
    left, right = t - start, end - t  # (P, N)

    centre = 0.5 * (start + end)
    radius = stride * center_radius
    inside_centre = torch.min(t - torch.max(centre - radius, start), torch.min(centre + radius, end) - t) > 0
    reach = torch.max(left, right)
    in_range = (reach >= reg_min) & (reach <= reg_max)

    lengths = (end - start).expand(n_points, -1).masked_fill(~(inside_centre & in_range), float("inf"))
    min_len, min_idx = lengths.min(dim=1)
    ties = (lengths <= min_len[:, None] + 1e-3) & torch.isfinite(lengths)
    cls_targets = (ties.float() @ F.one_hot(labels, num_classes).float()).clamp(max=1.0)
    offsets = torch.stack((left, right), dim=-1)[torch.arange(n_points), min_idx]
    return cls_targets, offsets / stride


@MODELS.register_module()
class ActionLocalizer(BaseModel):
    """ActionFormer / ActionMamba (the backbone config decides).

    forward(inputs, data_samples, mode): inputs is a list of (C, T_i) feature tensors (one per video) or a
    (B, C, T) tensor of full-length videos; data_samples the per-video dicts from the data set.
    mode "tensor" returns per-level (cls_logits (B, K, T_l), offsets (B, 2, T_l)); "loss" a loss dict;
    "predict" one dict per video: video_id, segments (M, 2) seconds, scores (M,), labels (M,).
    """

    def __init__(self, backbone, num_classes, max_seq_len, neck=None, fpn_dim=512, head_dim=512,
                 regression_range=THUMOS_REGRESSION_RANGE, head_num_layers=3, head_kernel_size=3, head_with_ln=True,
                 cls_prior_prob=0.01, empty_classes=(), center_sample_radius=1.5, init_loss_norm=100.0,
                 loss_norm_momentum=0.9, label_smoothing=0.0, loss_weight=1.0, test_cfg=None,
                 data_preprocessor=None):
        super().__init__(data_preprocessor=data_preprocessor)
        self.backbone = MODELS.build(backbone, default_args=dict(max_seq_len=max_seq_len))
        self.strides = self.backbone.strides
        n_levels = len(self.strides)
        if len(regression_range) != n_levels:
            raise ValueError(f"regression_range has {len(regression_range)} levels, the backbone {n_levels}")
        if max_seq_len % self.strides[-1]:
            raise ValueError(f"max_seq_len {max_seq_len} must be a multiple of the coarsest stride {self.strides[-1]}")
        neck = dict(neck or dict(type="IdentityNeck"))
        self.neck = MODELS.build(neck, default_args=dict(
            in_channels=self.backbone.embed_dim, out_channels=fpn_dim, n_levels=n_levels))
        self.cls_head = ClassificationHead(fpn_dim, head_dim, num_classes, cls_prior_prob, head_num_layers,
                                           head_kernel_size, head_with_ln, empty_classes)
        self.reg_head = RegressionHead(fpn_dim, head_dim, n_levels, head_num_layers, head_kernel_size, head_with_ln)

        self.num_classes, self.max_seq_len = num_classes, max_seq_len
        self.regression_range = [tuple(r) for r in regression_range]
        self.center_sample_radius, self.label_smoothing = center_sample_radius, label_smoothing
        self.loss_norm_momentum, self.loss_weight = loss_norm_momentum, loss_weight
        self.register_buffer("loss_normalizer", torch.tensor(float(init_loss_norm)))
        self.test_cfg = dict(DEFAULT_TEST_CFG, **(test_cfg or {}))

    # ------------------------------------------------------------------------------------------------
    def pad_batch(self, inputs):
        """Videos -> (B, C, T) zero-padded to a multiple of the coarsest stride, and the (B, 1, T) mask.

        Every op is padding-aware, so how far a video is padded never changes its outputs.
        """
        if isinstance(inputs, torch.Tensor):
            inputs = list(inputs)
        lengths = torch.tensor([x.shape[-1] for x in inputs])
        max_len = int(lengths.max())
        if self.training and max_len > self.max_seq_len:
            raise ValueError(f"training video of {max_len} steps exceeds max_seq_len={self.max_seq_len}; "
                             "enable the random crop (crop_ratio / max_seq_len in the data set)")
        div = self.strides[-1]
        padded_len = -(-max_len // div) * div
        feats = inputs[0].new_zeros(len(inputs), inputs[0].shape[0], padded_len)
        for i, x in enumerate(inputs):
            feats[i, :, :x.shape[-1]] = x
        mask = (torch.arange(padded_len) < lengths[:, None])[:, None].to(feats.device)
        return feats, mask

    def forward_heads(self, feats, mask):
        levels = self.neck(self.backbone(feats, mask))
        return self.cls_head(levels), self.reg_head(levels), [m for _, m in levels]

    def forward(self, inputs, data_samples=None, mode="tensor"):
        feats, mask = self.pad_batch(inputs)
        cls_logits, offsets, masks = self.forward_heads(feats, mask)
        if mode == "tensor":
            return tuple(cls_logits), tuple(offsets)
        points = make_points([m.shape[-1] for m in masks], self.strides, self.regression_range, feats.device)
        if mode == "loss":
            return self.loss(cls_logits, offsets, masks, points, data_samples)
        if mode == "predict":
            return self.predict(cls_logits, offsets, masks, points, data_samples)
        raise ValueError(f"unknown mode {mode!r} (expected 'tensor', 'loss' or 'predict')")

    # ------------------------------------------------------------------------------------------------
    def loss(self, cls_logits, offsets, masks, points, data_samples):
        points = torch.cat(points)
        cls_pred = torch.cat([c.transpose(1, 2) for c in cls_logits], dim=1)  # (B, P, K)
        reg_pred = torch.cat([o.transpose(1, 2) for o in offsets], dim=1)  # (B, P, 2)
        valid = torch.cat([m[:, 0] for m in masks], dim=1)  # (B, P)
        targets = [assign_targets(points, s["segments"].to(points), s["labels"].to(points.device), self.num_classes,
                                  self.center_sample_radius) for s in data_samples]
        cls_target = torch.stack([c for c, _ in targets])
        reg_target = torch.stack([r for _, r in targets])

        positive = (cls_target.sum(-1) > 0) & valid
        num_pos = positive.sum().item()
        if self.training:
            m = self.loss_norm_momentum
            self.loss_normalizer.mul_(m).add_((1 - m) * max(num_pos, 1))
        norm = self.loss_normalizer.item()

        target = cls_target[valid]
        if self.label_smoothing > 0:
            target = target * (1 - self.label_smoothing) + self.label_smoothing / (self.num_classes + 1)
        loss_cls = sigmoid_focal_loss(cls_pred[valid], target) / norm
        if num_pos == 0:
            loss_reg = 0.0 * reg_pred.sum()
        else:
            loss_reg = diou_loss_1d(reg_pred[positive], reg_target[positive]) / norm
        if self.loss_weight > 0:
            weight = self.loss_weight
        else:  # ActionFormer's adaptive weight: balance the two terms
            weight = loss_cls.detach() / max(loss_reg.item(), 0.01)
        return dict(loss_cls=loss_cls, loss_reg=weight * loss_reg)

    # ------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, cls_logits, offsets, masks, points, data_samples):
        cfg = self.test_cfg
        results = []
        for b, sample in enumerate(data_samples):
            segs, scores, labels = [], [], []
            for cls_l, off_l, mask_l, pts_l in zip(cls_logits, offsets, masks, points):
                prob = (cls_l[b].T.sigmoid() * mask_l[b, 0, :, None]).flatten()
                cand = torch.nonzero(prob > cfg["pre_nms_thresh"])[:, 0]
                order = prob[cand].argsort(descending=True)[:cfg["pre_nms_topk"]]
                cand = cand[order]
                pt_idx, cls_idx = cand // self.num_classes, cand % self.num_classes
                pts, off = pts_l[pt_idx], off_l[b].T[pt_idx]
                seg = torch.stack((pts[:, 0] - off[:, 0] * pts[:, 3], pts[:, 0] + off[:, 1] * pts[:, 3]), dim=1)
                keep = seg[:, 1] - seg[:, 0] > cfg["duration_thresh"]
                segs.append(seg[keep])
                scores.append(prob[cand][keep])
                labels.append(cls_idx[keep])
            segs, scores, labels = batched_nms(
                torch.cat(segs).cpu().float(), torch.cat(scores).cpu().float(), torch.cat(labels).cpu(),
                sigma=cfg["nms_sigma"], min_score=cfg["min_score"], max_seg_num=cfg["max_seg_num"],
                multiclass=cfg["multiclass_nms"], voting_thresh=cfg["voting_thresh"],
                voting_iou_weighted=cfg["voting_iou_weighted"])
            segs = grid_to_seconds(segs, sample["fps"], sample["feat_stride"], sample["num_frames"], sample["duration"])
            results.append(dict(video_id=sample["video_id"], segments=segs, scores=scores, labels=labels))
        return results
