"""PDVC's caption heads: the light LSTM, the LSTM with deformable soft attention (LSTM-DSA), and the
reference row that always emits the training set's most frequent sentence.

Every head captions P (video, query) pairs at once:
    queries (P, d)      the decoder's hidden state of each pair's query
    references (P, 1|2) the reference the query's decoder layer read (a point, or a (centre, length) box)
    video (P,)          which video of the batch each pair belongs to
    ctx                 dict(memory (N, S, d), shapes [T_l], padding_mask (N, S), valid_ratios (N, L))
forward(..., seq (P, T)) -> teacher-forced log-probabilities (P, T - 1, vocab_size + 1);
sample(...) -> greedy word ids (P, T') and their log-probabilities (P, T'), T' <= max_caption_len
(T' = 0 when every pair ends at once). Word 0 is BOS, EOS and padding.
"""
import torch
import torch.nn.functional as F
from torch import nn

from common.engine import MODELS
from ..datasets import Vocabulary, load_captions
from .deformable import init_offset_bias, sample_levels, sampling_locations


def caption_nll(logprobs, seq, lengths):
    """PDVC's build_loss: per caption, the mean negative log-likelihood of its words and its EOS: (P,).
    seq (P, T) rows [0, words..., 0, padding], lengths (P,) = words + 2."""
    mask = torch.arange(seq.shape[1] - 1, device=seq.device)[None] < (lengths - 1)[:, None]
    picked = logprobs.gather(2, seq[:, 1:, None])[..., 0]
    return -(picked * mask).sum(1) / (mask.sum(1) + 1e-6)


class LSTMCaptioner(nn.Module):
    """Shared by both LSTM heads: word embedding, dropout + linear + log-softmax on the LSTM output, greedy
    decoding. Subclasses define `prepare` (per-caption context, computed once) and `step` (one word)."""

    def __init__(self, vocab_size, hidden_dim, rnn_size=512, input_encoding_size=512, drop_prob=0.5,
                 max_caption_len=30):
        super().__init__()
        self.vocab_size, self.rnn_size, self.max_caption_len = vocab_size, rnn_size, max_caption_len
        self.embed = nn.Embedding(vocab_size + 1, input_encoding_size)
        self.logit = nn.Linear(rnn_size, vocab_size + 1)
        self.dropout = nn.Dropout(drop_prob)
        nn.init.uniform_(self.embed.weight, -0.1, 0.1)
        nn.init.uniform_(self.logit.weight, -0.1, 0.1)
        nn.init.zeros_(self.logit.bias)

    def init_state(self, n, ref):
        zeros = ref.new_zeros(1, n, self.rnn_size)
        return zeros, zeros.clone()

    def lstm_step(self, x, state):
        """One step of core.rnn (a 1-layer LSTM without biases) through the fused cell: (P, rnn_size), state."""
        h, c = torch.lstm_cell(x, (state[0][0], state[1][0]), self.core.rnn.weight_ih_l0, self.core.rnn.weight_hh_l0)
        return h, (h[None], c[None])

    def logprobs(self, output):
        return F.log_softmax(self.logit(self.dropout(output)), dim=-1)

    def forward(self, queries, references, video, ctx, seq):
        state, outputs = self.init_state(len(queries), queries), []
        context = self.prepare(queries, references, video, ctx)
        for t in range(seq.shape[1] - 1):
            output, state = self.step(seq[:, t], state, context)
            outputs.append(output)
        return self.logprobs(torch.stack(outputs, 1))

    @torch.no_grad()
    def sample(self, queries, references, video, ctx, early_stop=True):
        """Greedy decoding as PDVC's sample(); early_stop=False decodes all max_caption_len steps (FLOP counts)."""
        n = len(queries)
        state, context = self.init_state(n, queries), self.prepare(queries, references, video, ctx)
        output, state = self.step(queries.new_zeros(n, dtype=torch.long), state, context)  # BOS
        seq, seq_logprobs, unfinished = [], [], None
        for t in range(1, self.max_caption_len + 1):
            best, it = self.logprobs(output).max(1)
            unfinished = it > 0 if unfinished is None else unfinished & (it > 0)
            if early_stop and not unfinished.any():
                break
            seq.append(it * unfinished)
            seq_logprobs.append(best)
            if t < self.max_caption_len:
                output, state = self.step(it, state, context)  # the unmasked word, as upstream
        if not seq:
            return queries.new_zeros(n, 0, dtype=torch.long), queries.new_zeros(n, 0)
        return torch.stack(seq, 1), torch.stack(seq_logprobs, 1)


@MODELS.register_module()
class LightCaptioner(LSTMCaptioner):
    """PDVC-light: one LSTM (no biases) fed [word embedding ; query feature] at every step."""

    def __init__(self, vocab_size, hidden_dim, rnn_size=512, input_encoding_size=512, drop_prob=0.5,
                 max_caption_len=30):
        super().__init__(vocab_size, hidden_dim, rnn_size, input_encoding_size, drop_prob, max_caption_len)
        self.core = nn.Module()
        self.core.rnn = nn.LSTM(input_encoding_size + hidden_dim, rnn_size, 1, bias=False)

    def prepare(self, queries, references, video, ctx):
        return queries / (1 + 1e-5)  # PDVC's masked mean over a single clip

    def step(self, it, state, feats):
        return self.lstm_step(torch.cat([self.embed(it), feats], 1), state)

    def forward(self, queries, references, video, ctx, seq):
        # no attention, so teacher forcing runs the LSTM over the whole sequence in one call
        words = self.embed(seq[:, :-1])
        feats = self.prepare(queries, references, video, ctx)[:, None].expand(-1, words.shape[1], -1)
        output, _ = self.core.rnn(torch.cat([words, feats], 2).transpose(0, 1), self.init_state(len(seq), queries))
        return self.logprobs(output.transpose(0, 1))


@MODELS.register_module()
class LSTMDSACaptioner(LSTMCaptioner):
    """PDVC's standard head: at each word, deformable soft attention samples n_levels x n_points values per
    head around the query's reference (offsets from [previous hidden state ; query], border padding, as
    MSDeformAttnCap), additive attention over them with the previous hidden state, and the LSTM reads
    [word embedding ; attended feature ; query]. Needs rnn_size == hidden_dim, as upstream.

    Upstream's MSDeformAttnCap also holds attention_weights / output_proj that it never uses; they are
    left out here."""

    def __init__(self, vocab_size, hidden_dim, rnn_size=512, input_encoding_size=512, drop_prob=0.5,
                 max_caption_len=30, n_heads=1, n_levels=4, n_points=4, att_hid_size=512):
        super().__init__(vocab_size, hidden_dim, rnn_size, input_encoding_size, drop_prob, max_caption_len)
        if rnn_size != hidden_dim:
            raise ValueError(f"LSTM-DSA needs rnn_size == hidden_dim, got {rnn_size} and {hidden_dim}")
        self.n_heads, self.n_levels, self.n_points = n_heads, n_levels, n_points
        self.att_feat_size = hidden_dim // n_heads
        self.core = nn.Module()
        self.core.rnn = nn.LSTM(input_encoding_size + 2 * hidden_dim, rnn_size, 1, bias=False)
        att = nn.Module()
        att.sampling_offsets = nn.Linear(2 * hidden_dim, n_heads * n_levels * n_points)
        att.value_proj = nn.Linear(hidden_dim, hidden_dim)
        nn.init.zeros_(att.sampling_offsets.weight)
        with torch.no_grad():
            att.sampling_offsets.bias.copy_(init_offset_bias(n_heads, n_levels, n_points, centred=True))
        nn.init.xavier_uniform_(att.value_proj.weight)
        nn.init.zeros_(att.value_proj.bias)
        self.core.deformable_att = att
        self.core.ctx2att = nn.Linear(self.att_feat_size, att_hid_size)
        self.core.h2att = nn.Linear(rnn_size, att_hid_size)
        self.core.alpha_net = nn.Linear(att_hid_size, 1)

    def prepare(self, queries, references, video, ctx):
        """Per pair: its video's projected memory (first n_levels levels) and its per-level reference."""
        shapes = ctx["shapes"][:self.n_levels]
        total = sum(shapes)
        value = self.core.deformable_att.value_proj(ctx["memory"][:, :total])
        value = value.masked_fill(ctx["padding_mask"][:, :total, None], 0.0)
        value = value.view(*value.shape[:2], self.n_heads, self.att_feat_size)[video]
        ratios = ctx["valid_ratios"][video, :self.n_levels]  # (P, L)
        ref = references[:, None, :] * ratios[:, :, None]  # (P, L, 1 or 2): centre and length both scale
        return dict(queries=queries, value=value, shapes=shapes, reference=ref[:, None])

    def step(self, it, state, context):
        queries, core = context["queries"], self.core
        h = state[0][0]
        n = len(queries)
        offsets = core.deformable_att.sampling_offsets(torch.cat([h, queries], 1))
        offsets = offsets.view(n, 1, self.n_heads, self.n_levels, self.n_points)
        locations = sampling_locations(context["reference"], offsets, context["shapes"], self.n_points)
        clip = sample_levels(context["value"], context["shapes"], locations, padding="border")
        clip = clip.reshape(n, self.n_heads, self.n_levels * self.n_points, self.att_feat_size)
        scores = core.alpha_net(torch.tanh(core.ctx2att(clip) + core.h2att(h)[:, None, None]))[..., 0]
        attended = torch.einsum("nhk,nhkd->nhd", F.softmax(scores, dim=-1), clip).flatten(1)
        return self.lstm_step(torch.cat([self.embed(it), attended, queries], 1), state)


@MODELS.register_module()
class FrequentSentenceCaptioner(nn.Module):
    """The floor of the toy comparison: every query gets the most frequent caption of `caption_file`
    (as PDVC word ids; ties go to the caption seen first) with log-probability 0. No parameters."""

    def __init__(self, vocab_size, hidden_dim, caption_file, vocab_file, max_caption_len=30):
        super().__init__()
        vocab = Vocabulary(vocab_file, vocab_size)
        counts = {}
        for video in load_captions(caption_file).values():
            for sentence in video["sentences"]:
                ids = tuple(vocab.encode(sentence, max_caption_len)[1:-1].tolist())
                counts[ids] = counts.get(ids, 0) + 1
        ids = max(counts, key=counts.get)
        self.sentence = vocab.decode(ids)
        self.register_buffer("ids", torch.tensor(ids, dtype=torch.long), persistent=False)

    def forward(self, queries, references, video, ctx, seq):
        raise RuntimeError("FrequentSentenceCaptioner has nothing to learn: set the caption loss weight to 0")

    def sample(self, queries, references, video, ctx, early_stop=True):
        seq = self.ids[None].expand(len(queries), -1)
        return seq, queries.new_zeros(seq.shape)
