"""UniVTG's multi-modal interaction networks: projected video and text tokens in, video memory out.

Both share one signature, forward(video, video_mask, video_pos, text, text_mask, text_pos) -> (B, Lv, D):
tokens (B, L, D), masks (B, L) bool with True = valid, positions (B, L, D) added as upstream adds them.
"""
import torch
import torch.nn.functional as F
from torch import nn

from common import build_mixer
from common.blocks import DropPath
from common.engine import MODELS
from common.mixers import concat_valid_first, take_segment


class PostNormEncoderLayer(nn.Module):
    """UniVTG's TransformerEncoderLayer (forward_post): self-attention with the positions added to queries and
    keys, GELU FFN, each branch through stochastic depth and added before its LayerNorm."""

    def __init__(self, d_model, num_heads, dim_feedforward, dropout, drop_path):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, num_heads, dropout=dropout, batch_first=True)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.drop_path1, self.drop_path2 = DropPath(drop_path), DropPath(drop_path)

    def forward(self, x, padding, pos):
        q = k = x + pos
        attn = self.self_attn(q, k, x, key_padding_mask=padding, need_weights=False)[0]
        x = self.norm1(x + self.drop_path1(attn))
        return self.norm2(x + self.drop_path2(self.linear2(F.gelu(self.linear1(x)))))


@MODELS.register_module()
class TransformerInteractionEncoder(nn.Module):
    """The UniVTG baseline: post-norm Transformer layers over [video ; text] with a key padding mask, no final
    norm, every matrix Xavier-uniform initialised; the first Lv outputs are the video memory."""

    def __init__(self, d_model, num_layers=4, num_heads=8, dim_feedforward=1024, dropout=0.0, drop_path=0.1):
        super().__init__()
        self.layers = nn.ModuleList(PostNormEncoderLayer(d_model, num_heads, dim_feedforward, dropout, drop_path)
                                    for _ in range(num_layers))
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, video, video_mask, video_pos, text, text_mask, text_pos):
        x, pos = torch.cat([video, text], dim=1), torch.cat([video_pos, text_pos], dim=1)
        padding = ~torch.cat([video_mask, text_mask], dim=1)
        for layer in self.layers:
            x = layer(x, padding, pos)
        return x[:, :video.shape[1]]


class AddNormMixerLayer(nn.Module):
    """One block of the suite's UniVTG-Mamba (Vim's Block with fused add + norm): the mixer reads
    LayerNorm(residual) + positions; its output is added to the residual stream by the next block."""

    def __init__(self, d_model, mixer, mixer_cfg, norm_eps):
        super().__init__()
        self.mixer = build_mixer(mixer, d_model, **(mixer_cfg or {}))
        self.norm = nn.LayerNorm(d_model, eps=norm_eps)

    def forward(self, residual, pos, mask):
        return self.mixer(self.norm(residual) + pos, mask)


@MODELS.register_module()
class MambaInteractionEncoder(nn.Module):
    """The suite's interaction network: [text ; video] through `depth` blocks
    x <- x + DropPath(mixer(LayerNorm(x) + pos)), then LayerNorm (norm_f); the video slice is the memory.

    Upstream builds every block with drop path 0.1 and the model's final add with 0.1 too, so each mixer
    output passes one DropPath(drop_path). Mixers: 'vim' (bimamba v2, expand 2, directions summed) or 'dbm'
    (the suite passes no ssm_cfg to mamba_new's Mamba, whose default expand is 2: set mixer_cfg expand=2).
    Padding: the tokens are packed so that each query's valid text tokens and then its valid video clips
    come first (common.mixers.concat_valid_first) and the mixers skip the padding. Upstream scans the padded
    [text ; video] as it is, so padded text tokens sit between a query's words and its clips and padded clips
    enter the backward scan; both are identical when nothing is padded.
    """

    def __init__(self, d_model, depth=6, mixer="vim", mixer_cfg=None, drop_path=0.1, norm_eps=1e-5):
        super().__init__()
        self.layers = nn.ModuleList(AddNormMixerLayer(d_model, mixer, mixer_cfg, norm_eps) for _ in range(depth))
        self.norm_f = nn.LayerNorm(d_model, eps=norm_eps)
        self.drop_path = DropPath(drop_path)

    def forward(self, video, video_mask, video_pos, text, text_mask, text_pos):
        masks = [text_mask, video_mask]
        x, mask, index = concat_valid_first([text, video], masks)
        pos = concat_valid_first([text_pos, video_pos], masks)[0]
        for layer in self.layers:
            x = x + self.drop_path(layer(x, pos, mask))
        return take_segment(self.norm_f(x), index, text.shape[1], video.shape[1])
