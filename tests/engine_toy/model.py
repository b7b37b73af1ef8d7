"""A small temporal-conv tagger with dropout, and its per-step accuracy metric."""
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from torch import nn
from torch.nn import functional as F

from common.engine import METRICS, MODELS


@MODELS.register_module(force=True)
class ToyTagger(BaseModel):
    def __init__(self, in_dim: int, hidden: int, num_classes: int, dropout: float):
        super().__init__()
        self.conv = nn.Conv1d(in_dim, hidden, kernel_size=3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, inputs, data_samples=None, mode="tensor"):
        """inputs (B, L, D) -> logits (B, L, C) | dict(loss) | list of dict(pred, labels)."""
        h = F.gelu(self.conv(inputs.transpose(1, 2))).transpose(1, 2)
        logits = self.head(self.dropout(h))
        if mode == "tensor":
            return logits
        if mode == "loss":
            labels = data_samples["labels"]
            return dict(loss=F.cross_entropy(logits.flatten(0, 1), labels.flatten()))
        if mode == "predict":
            preds = logits.argmax(-1)
            return [dict(pred=p, labels=y) for p, y in zip(preds, data_samples["labels"])]
        raise ValueError(f"unknown mode {mode!r}")


@METRICS.register_module(force=True)
class ToyAccuracy(BaseMetric):
    """Fraction of correctly labelled steps, as `acc`."""

    def process(self, data_batch, data_samples):
        for s in data_samples:
            self.results.append((int((s["pred"] == s["labels"]).sum()), s["labels"].numel()))

    def compute_metrics(self, results):
        correct, total = (sum(col) for col in zip(*results))
        return dict(acc=correct / total)
