"""CLIP's text tower as the suite builds it (egocentric-understanding/avion/models/transformer.py `TextTransformer`,
the same for every model: vocabulary 49,408, context 77, width 512, 8 heads, 12 layers, output 256).

    tokens (N, 77) -> token embedding + positional embedding -> 12 x pre-norm residual blocks
    [x + attn(ln_1(x)) with a causal mask; x + c_proj(GELU(c_fc(ln_2(x))))] -> ln_final
    -> the feature at the end-of-text token (the position of the row's largest id, 49,407) @ text_projection

The MLP's GELU is exact: the suite's builders receive use_quick_gelu=True but never pass it on, so its released
checkpoints were trained with exact GELU (from OpenAI CLIP weights trained with QuickGELU); we compute what they
were trained with. LayerNorm eps 1e-5. Parameter names are upstream's (token_embedding, positional_embedding,
transformer.resblocks.i.{ln_1, attn.in_proj_weight, attn.in_proj_bias, attn.out_proj, ln_2, mlp.c_fc, mlp.c_proj},
ln_final, text_projection), so the released text towers load strictly. Initialisation is upstream's (CLIP's).
"""
from collections import OrderedDict

import torch
from torch import nn

from common.engine import MODELS
from .layers import Transformer


class TextBlock(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict(c_fc=nn.Linear(width, 4 * width), gelu=nn.GELU(),
                                             c_proj=nn.Linear(4 * width, width)))

    def forward(self, x, attn_mask):
        """x (N, L, width), attn_mask (L, L) additive (-inf where a token may not look) -> (N, L, width)."""
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=attn_mask)[0]
        return x + self.mlp(self.ln_2(x))


@MODELS.register_module()
class TextTransformer(nn.Module):
    """Args: vocab_size, context_length, width, heads, layers (CLIP's by default); output_dim: the joint
    embedding dimension (the suite's project_embed_dim, 256)."""

    def __init__(self, vocab_size=49408, context_length=77, width=512, heads=8, layers=12, output_dim=256):
        super().__init__()
        self.vocab_size, self.context_length = vocab_size, context_length
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.positional_embedding = nn.Parameter(torch.empty(context_length, width))
        self.transformer = Transformer([TextBlock(width, heads) for _ in range(layers)])
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(torch.empty(width, output_dim))
        # each token sees itself and the tokens before it
        self.register_buffer("attn_mask", torch.full((context_length, context_length), float("-inf")).triu(1),
                             persistent=False)
        self._init_like_clip(width, layers)

    def _init_like_clip(self, width, layers):
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        proj_std, attn_std, fc_std = width ** -0.5 * (2 * layers) ** -0.5, width ** -0.5, (2 * width) ** -0.5
        for block in self.transformer.resblocks:
            nn.init.normal_(block.attn.in_proj_weight, std=attn_std)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
            nn.init.normal_(block.mlp.c_fc.weight, std=fc_std)
            nn.init.normal_(block.mlp.c_proj.weight, std=proj_std)
        nn.init.normal_(self.text_projection, std=width ** -0.5)

    def forward(self, tokens):
        """tokens (N, context_length) int64 token ids, end-of-text the largest of each row -> (N, output_dim)."""
        if tokens.dtype != torch.long or tokens.dim() != 2 or tokens.shape[1] != self.context_length:
            raise ValueError(f"expected token ids as an int64 tensor (N, {self.context_length}), got "
                             f"{tokens.dtype} {tuple(tokens.shape)}")
        if len(tokens) and (tokens.min() < 0 or tokens.max() >= self.vocab_size):
            raise ValueError(f"token ids must lie in [0, {self.vocab_size}), got [{tokens.min()}, {tokens.max()}]")
        x = self.token_embedding(tokens) + self.positional_embedding
        x = self.ln_final(self.transformer(x, self.attn_mask.to(x.dtype)))
        return x[torch.arange(len(x), device=x.device), tokens.argmax(-1)] @ self.text_projection
