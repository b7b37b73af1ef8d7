"""Boxes on a line and PDVC's Hungarian matcher (scipy's linear_sum_assignment).

Boxes are (centre, length) normalised by the duration unless named `_xy` ((start, end)).
"""
import torch
from scipy.optimize import linear_sum_assignment


def box_cl_to_xy(boxes):
    centre, length = boxes.unbind(-1)
    return torch.stack([centre - 0.5 * length, centre + 0.5 * length], dim=-1)


def box_iou(boxes1, boxes2):
    """Pairwise IoU of (M, 2) and (K, 2) (start, end) boxes, with PDVC's 1e-5 in the union; also the union."""
    inter = (torch.min(boxes1[:, None, 1], boxes2[:, 1]) - torch.max(boxes1[:, None, 0], boxes2[:, 0])).clamp(min=0)
    union = (boxes1[:, 1] - boxes1[:, 0])[:, None] + (boxes2[:, 1] - boxes2[:, 0]) - inter
    return inter / (union + 1e-5), union


def generalized_box_iou(boxes1, boxes2):
    """Pairwise GIoU of (start, end) boxes: IoU - (hull - union) / hull, with PDVC's 1e-5 in the hull."""
    if (boxes1[:, 1] < boxes1[:, 0]).any() or (boxes2[:, 1] < boxes2[:, 0]).any():
        raise ValueError("generalized_box_iou needs boxes with end >= start")
    iou, union = box_iou(boxes1, boxes2)
    hull = (torch.max(boxes1[:, None, 1], boxes2[:, 1]) - torch.min(boxes1[:, None, 0], boxes2[:, 0])).clamp(min=0)
    return iou - (hull - union) / (hull + 1e-5)


class HungarianMatcher:
    """One-to-one assignment of queries to ground-truth events per video, minimising
    cost_class * focal class cost + cost_bbox * L1 + cost_giou * (-GIoU).

    Focal class cost (Deformable DETR): alpha (1 - p)^gamma (-log(p + 1e-8)) - (1 - alpha) p^gamma (-log(1 - p + 1e-8))
    with p = sigmoid(logit of the event's class)."""

    def __init__(self, cost_class=2.0, cost_bbox=0.0, cost_giou=4.0, cost_alpha=0.25, cost_gamma=2.0):
        if cost_class == 0 and cost_bbox == 0 and cost_giou == 0:
            raise ValueError("the matcher needs at least one non-zero cost")
        self.cost_class, self.cost_bbox, self.cost_giou = cost_class, cost_bbox, cost_giou
        self.alpha, self.gamma = cost_alpha, cost_gamma

    @torch.no_grad()
    def cost_matrices(self, logits, boxes, targets):
        """logits (N, Q, C), boxes (N, Q, 2), targets [dict(labels (E_i,), boxes (E_i, 2))] -> [(Q, E_i)] costs."""
        n, q = logits.shape[:2]
        prob = logits.flatten(0, 1).sigmoid()
        out_boxes = boxes.flatten(0, 1)
        labels = torch.cat([t["labels"] for t in targets])
        tgt_boxes = torch.cat([t["boxes"] for t in targets])
        neg = (1 - self.alpha) * prob ** self.gamma * -(1 - prob + 1e-8).log()
        pos = self.alpha * (1 - prob) ** self.gamma * -(prob + 1e-8).log()
        cost = self.cost_class * (pos[:, labels] - neg[:, labels])
        if self.cost_bbox:
            cost = cost + self.cost_bbox * torch.cdist(out_boxes, tgt_boxes, p=1)
        cost = cost - self.cost_giou * generalized_box_iou(box_cl_to_xy(out_boxes), box_cl_to_xy(tgt_boxes))
        cost = cost.view(n, q, -1).cpu()
        return [c[i] for i, c in enumerate(cost.split([len(t["boxes"]) for t in targets], -1))]

    def __call__(self, logits, boxes, targets, query_mask=None):
        """[(query indices, event indices)] per video, as int64 tensors (queries in increasing order).
        query_mask (N, Q), True at the queries that may be assigned (None: all)."""
        indices = []
        for b, cost in enumerate(self.cost_matrices(logits, boxes, targets)):
            rows = torch.arange(len(cost)) if query_mask is None else query_mask[b].nonzero()[:, 0].cpu()
            query, event = linear_sum_assignment(cost[rows])
            indices.append((rows[torch.as_tensor(query, dtype=torch.int64)], torch.as_tensor(event, dtype=torch.int64)))
        return indices
