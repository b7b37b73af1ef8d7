"""What every anticipation model here shares: the verb / noun / action heads, TeSTra's losses, the
row layout, and evaluation over whole videos.

Rows. A window ending at tick e yields W / w_stride work rows (ticks e - W, ..., e - w_stride) and
Q = anticipation_ticks / a_stride anticipation rows (ticks e, e + a_stride, ...), TeSTra's 10 + 2 on EK100.
The evaluated row is the anticipation query at tick e + gap (gap = 4 ticks = 1 s: query 1).

Subclasses implement `forward_window(history, start)` (training windows, (B, H, C) -> hidden rows
(B, R, D)) and `anticipate(features, ends)` (one video (L, C), window ends (P,) -> hidden (P, D) of the
evaluated query), plus `stream_init(batch)`, `stream_step(x (B, C), state) -> state` and
`stream_readout(state)`: one tick at a time, a state of constant size, readout = the anticipation rows' logits
of the window ending at the last tick (dict of (B, Q, classes + 1)).
"""
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import nn

from common.checks import InputError
from ..datasets import EK100Annotations
from .losses import equalization_cross_entropy, multilabel_cross_entropy


class FeatureHead(nn.Module):
    """Concatenated streams -> Linear + ReLU (upstream's BaseFeatureHead, `input_linear.0`)."""

    def __init__(self, in_dim, d_model):
        super().__init__()
        self.input_linear = nn.Sequential(nn.Linear(in_dim, d_model), nn.ReLU(inplace=True))

    def forward(self, x):
        return self.input_linear(x)


class AnticipationModel(BaseModel):
    """annotations: RULSTM's annotation folder (class counts from actions.csv, equalisation-loss frequencies
    from training.csv). work_memory / anticipation: dict(ticks, stride). eql: dict(gamma, lambda_)."""

    def __init__(self, annotations, d_model, cls_dropout=0.8, work_memory=dict(ticks=20, stride=2),
                 anticipation=dict(ticks=8, stride=4), anticipation_gap_ticks=4, eql=dict(gamma=0.95, lambda_=3e-3),
                 data_preprocessor=None):
        super().__init__(data_preprocessor=data_preprocessor)
        ann = EK100Annotations(annotations)
        classes = ann.classes
        self.annotations, self.action_table = annotations, np.stack([classes.verb_of, classes.noun_of], 1)
        self.work_ticks, self.work_stride = work_memory["ticks"], work_memory["stride"]
        self.ant_ticks, self.ant_stride = anticipation["ticks"], anticipation["stride"]
        self.num_work_rows, self.num_queries = self.work_ticks // self.work_stride, self.ant_ticks // self.ant_stride
        query = anticipation_gap_ticks // self.ant_stride
        if anticipation_gap_ticks % self.ant_stride or not 0 <= query < self.num_queries:
            raise ValueError(f"anticipation_gap_ticks={anticipation_gap_ticks} must be a query's offset: a multiple "
                             f"of {self.ant_stride} below {self.ant_ticks}")
        self.eval_row = self.num_work_rows + query
        self.d_model = d_model
        self.eql_gamma, self.eql_lambda = eql["gamma"], eql["lambda_"]
        self.register_buffer("rare_actions", torch.from_numpy(ann.action_frequencies() < self.eql_lambda),
                             persistent=False)
        self.dropout_cls, self.dropout_cls_v, self.dropout_cls_n = (nn.Dropout(cls_dropout) for _ in range(3))
        self.classifier = nn.Linear(d_model, classes.num_actions + 1)
        self.classifier_verb = nn.Linear(d_model, classes.num_verbs + 1)
        self.classifier_noun = nn.Linear(d_model, classes.num_nouns + 1)

    def check_annotations(self, dataset, name):
        """An error naming both folders when the data set `name` (e.g. 'train_dataloader') reads another class
        layout than the model's heads, or (training) another training.csv than its equalisation loss."""
        def layout(table):
            return f"{len(table)} actions, {table[:, 0].max() + 1} verbs, {table[:, 1].max() + 1} nouns"

        ann = dataset.ann
        theirs = np.stack([ann.classes.verb_of, ann.classes.noun_of], 1)
        if layout(theirs) != layout(self.action_table):
            what = f"{layout(self.action_table)} against {layout(theirs)}"
        elif (theirs != self.action_table).any():
            what = f"{int((theirs != self.action_table).any(1).sum())} actions are other (verb, noun) pairs"
        elif dataset.training and not torch.equal(
                self.rare_actions.cpu(), torch.from_numpy(ann.action_frequencies() < self.eql_lambda)):
            what = "their training.csv give other rare actions for the equalisation loss"
        else:
            return
        raise InputError(f"{self.annotations} (model.annotations) and {ann.root} ({name}.dataset.annotations) "
                         f"differ: {what}; the model's classes and the data's targets must come from one "
                         "annotation folder")

    def heads(self, hidden):
        """hidden (..., D) -> dict of action / verb / noun logits, background first."""
        return dict(action=self.classifier(self.dropout_cls(hidden)),
                    verb=self.classifier_verb(self.dropout_cls_v(hidden)),
                    noun=self.classifier_noun(self.dropout_cls_n(hidden)))

    def forward(self, inputs, data_samples=None, mode="tensor"):
        """tensor: inputs = history (B, H, C), data_samples = start ticks (B,) or None (no padding) -> logits
        (action, verb, noun) (B, R, classes + 1). loss: training windows. predict: inputs = [features
        (L, C)] per video, data_samples = the data set's video items."""
        if mode == "tensor":
            start = torch.zeros(len(inputs), dtype=torch.long) if data_samples is None else data_samples
            logits = self.heads(self.forward_window(inputs, start))
            return logits["action"], logits["verb"], logits["noun"]
        if mode == "loss":
            return self.loss(self.heads(self.forward_window(inputs, data_samples["start"])), data_samples)
        if mode == "predict":
            return [self.predict_video(x, sample) for x, sample in zip(inputs, data_samples)]
        raise ValueError(f"unknown mode {mode!r} (expected 'tensor', 'loss' or 'predict')")

    def loss(self, logits, targets):
        flat = {k: v.flatten(0, 1) for k, v in logits.items()}
        return dict(
            loss_action=equalization_cross_entropy(flat["action"], targets["action"].flatten(0, 1),
                                                   self.rare_actions, self.eql_gamma),
            loss_verb=multilabel_cross_entropy(flat["verb"], targets["verb"].flatten(0, 1)),
            loss_noun=multilabel_cross_entropy(flat["noun"], targets["noun"].flatten(0, 1)))

    @torch.no_grad()
    def predict_video(self, features, sample):
        """Class probabilities (background left out, then softmax) of the 1 s query at every window end of
        the video: its segments' (verb, noun, action: (P, classes)) and its tracks' (track_action (T, A))."""
        ends = torch.as_tensor(list(sample["ends"]) + list(sample["track_ends"]), dtype=torch.long,
                               device=features.device)
        hidden = self.anticipate(features, ends) if len(ends) else features.new_zeros(0, self.d_model)
        probs = {k: F.softmax(v[:, 1:].float(), dim=-1).cpu().numpy() for k, v in self.heads(hidden).items()}
        count = len(sample["ends"])
        out = {k: v for k, v in sample.items() if k != "ends"}
        out.update({k: v[:count] for k, v in probs.items()}, track_action=probs["action"][count:])
        return out
