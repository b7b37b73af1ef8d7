"""The dual encoder, the action classifier and their towers, registered into mmengine's root MODELS registry:
TextTransformer, SpaceTimeTransformer (TimeSformer), TimeMamba, VisionTransformer (ViT joint), ViViM (common's),
VideoTextDualEncoder, VideoClassifier, ClipInfoNCELoss, MaxMarginRankingLoss."""
from common.backbones.vivim import ViViM
from common.engine import MODELS
from .classifier import VideoClassifier
from .dual_encoder import VideoTextDualEncoder
from .losses import ClipInfoNCELoss, MaxMarginRankingLoss, all_gather_with_grad, soft_target_cross_entropy
from .mixup import BatchMixup
from .spacetime import SpaceTimeTransformer, TimeMamba
from .text import TextTransformer
from .vit import VisionTransformer

MODELS.register_module(module=ViViM)

__all__ = ["VideoTextDualEncoder", "VideoClassifier", "TextTransformer", "SpaceTimeTransformer", "TimeMamba",
           "VisionTransformer", "ViViM", "ClipInfoNCELoss", "MaxMarginRankingLoss", "BatchMixup",
           "all_gather_with_grad", "soft_target_cross_entropy"]
