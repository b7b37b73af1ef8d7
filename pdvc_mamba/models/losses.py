"""PDVC's losses (pdvc/criterion.py): sigmoid focal classification, the event counter, GIoU / L1 boxes."""
import torch
import torch.nn.functional as F

from .matcher import box_cl_to_xy, generalized_box_iou

# How often ActivityNet Captions' training videos hold n events (n = 0..27); PDVC weighs the counter's
# BCE by 1 - rate, whatever the data set.
COUNTER_CLASS_RATE = (
    0.0, 0.0, 1.93425917e-01, 4.12129084e-01, 1.88929963e-01, 7.81296833e-02, 5.09541413e-02, 3.12718553e-02,
    1.84833650e-02, 8.39244680e-03, 6.59406534e-03, 4.49595364e-03, 2.19802178e-03, 1.79838146e-03,
    5.99460486e-04, 4.99550405e-04, 4.99550405e-04, 1.99820162e-04, 2.99730243e-04, 3.99640324e-04,
    2.99730243e-04, 0.0, 1.99820162e-04, 0.0, 0.0, 0.0, 9.99100809e-05, 9.99100809e-05)


def sigmoid_focal_loss(logits, targets, num_boxes, alpha=0.25, gamma=2.0):
    """RetinaNet's focal loss, averaged over queries, summed over videos and classes, / num_boxes.
    logits, targets (N, Q, C)."""
    prob = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = prob * targets + (1 - prob) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss.mean(1).sum() / num_boxes


def class_loss(logits, targets, indices, num_boxes, alpha, gamma):
    """Focal loss with matched queries labelled by their event's class, the rest background; x Q as upstream."""
    n, q, num_classes = logits.shape
    classes = torch.full((n, q), num_classes, dtype=torch.long, device=logits.device)
    for b, (query, event) in enumerate(indices):
        classes[b, query.to(logits.device)] = targets[b]["labels"][event.to(logits.device)]
    onehot = F.one_hot(classes, num_classes + 1)[..., :num_classes].to(logits.dtype)
    return sigmoid_focal_loss(logits, onehot, num_boxes, alpha, gamma) * q


def counter_loss(count_logits, targets, gaussian_mask=True, beta=1.0, sigma=2.0):
    """PDVC's event-count loss: BCE against the one-hot event count (capped at the head's maximum),
    weighted by 1 - COUNTER_CLASS_RATE[n]; with `gaussian_mask` the negatives near the true count are
    down-weighted by (1 - exp(-(k - n)^2 / (2 sigma^2)))^beta. Mean over counts, then over videos."""
    max_count = count_logits.shape[1] - 1
    if max_count >= len(COUNTER_CLASS_RATE):
        raise ValueError(f"the event counter predicts up to {max_count} events; PDVC's weights stop at "
                         f"{len(COUNTER_CLASS_RATE) - 1}")
    counts = torch.tensor([min(len(t["boxes"]), max_count) for t in targets], device=count_logits.device)
    onehot = F.one_hot(counts, max_count + 1).to(count_logits.dtype)
    weight = 1 - count_logits.new_tensor(COUNTER_CLASS_RATE[:max_count + 1])
    loss = F.binary_cross_entropy_with_logits(count_logits, onehot, weight=weight, reduction="none")
    if gaussian_mask:
        k = torch.arange(max_count + 1, device=count_logits.device, dtype=count_logits.dtype)
        near = torch.exp(-(k[None] - counts[:, None].to(k.dtype)) ** 2 / (2 * sigma ** 2))
        loss = loss * (onehot + (1 - near) ** beta * (1 - onehot))
    return loss.mean(1).mean()


def box_losses(boxes, targets, indices, num_boxes):
    """Matched pairs' L1 over (centre, length) and 1 - GIoU over (start, end), each summed / num_boxes."""
    src = torch.cat([boxes[b, query.to(boxes.device)] for b, (query, _) in enumerate(indices)])
    tgt = torch.cat([t["boxes"][event.to(boxes.device)] for t, (_, event) in zip(targets, indices)])
    l1 = F.l1_loss(src, tgt, reduction="none").sum() / num_boxes
    giou = (1 - torch.diag(generalized_box_iou(box_cl_to_xy(src), box_cl_to_xy(tgt)))).sum() / num_boxes
    return l1, giou
