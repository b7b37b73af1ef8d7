"""Online anticipation cost per 4 fps tick after 1, 10 and 60 minutes of video: TeSTra streaming (its O(1)
ESA update), TeSTra recomputing its whole window every tick, and the causal Mamba stream.

    python tools/bench_streaming.py [--scale ek100|toy] [--minutes 1 10 60] [--steps 50] [--device cpu|cuda]
    python tools/bench_streaming.py --layer [--d-model 1024] [--steps 200]

--scale ek100 (default) builds the models of testra_mamba/configs/testra_ek100.py and mamba_stream_ek100.py with
EK100's class counts (97 verbs, 300 nouns, 3806 actions, written to a temporary annotation folder); toy builds
the toy configs' models (reads data/toy/testra_mamba/annotations). Features are random: the cost does not
depend on them. Each model consumes the video tick by tick (state updates; the readouts in between change no
state and are skipped, TeSTra's recompute only buffers the features), and at each mark `steps` ticks of
update + readout are timed (median), alternating between the models so that changing load hits all alike.
State memory: TeSTra stream = ESA sums, logit / value and feature rings; recompute = the window's raw
features; Mamba = per layer its conv inputs and SSM state.

--layer: one layer's step instead, batch 1, d 1024: Mamba.stream on one new token (d_state 16, d_conv 4,
expand 2, as mamba_stream_ek100) next to one causal attention step over TeSTra's 5 s work window (20 ticks
at 4 fps, 8 heads): the new token's query against a cache of the window's keys and values, and the
window recomputed under a causal mask; projections included, timed alternately (median).
"""
import argparse
import collections
import os
import statistics
import sys
import tempfile
import time

# Run as a script: the repository root, not tools/, must lead sys.path.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import common  # noqa: E402,F401  (before torch: OpenMP wait policy)
import torch  # noqa: E402

from common.engine import MODELS, load_config  # noqa: E402

CONFIGS = dict(ek100=("testra_mamba/configs/testra_ek100.py", "testra_mamba/configs/mamba_stream_ek100.py"),
               toy=("testra_mamba/configs/toy/testra.py", "testra_mamba/configs/toy/mamba_stream.py"))
EK100_CLASSES = dict(verbs=97, nouns=300, actions=3806)
FPS = 4


def ek100_sized_annotations(folder):
    """actions.csv with EK100's class counts and a training.csv naming each action once (the models read
    class counts and training frequencies; nothing else)."""
    with open(os.path.join(folder, "actions.csv"), "w") as f:
        f.write("id,verb,noun,action\n")
        for a in range(EK100_CLASSES["actions"]):
            f.write(f"{a},{a % EK100_CLASSES['verbs']},{a % EK100_CLASSES['nouns']},a{a}\n")
    with open(os.path.join(folder, "training.csv"), "w") as f:
        for a in range(EK100_CLASSES["actions"]):
            f.write(f"P01_01_{a},P01_01,{10 * a},{10 * a + 5},{a % 97},{a % 300},{a}\n")
    return folder


class Recompute:
    """TeSTra without streaming: keeps the last H ticks' features, runs the whole window at each readout."""

    def __init__(self, model):
        self.model = model

    def stream_init(self, batch, device):
        return dict(seen=0, window=collections.deque(maxlen=self.model.history_ticks))

    def stream_step(self, x, state):
        state["window"].append(x)
        state["seen"] += 1
        return state

    def stream_readout(self, state):
        window = list(state["window"])
        history = torch.stack([window[0]] * (self.model.history_ticks - len(window)) + window, dim=1)
        start = torch.tensor([state["seen"] - self.model.history_ticks])
        return self.model.heads(self.model.forward_window(history, start)[:, self.model.num_work_rows:])

    @staticmethod
    def nbytes(state):
        return sum(t.numel() * t.element_size() for t in state["window"])


def bench(methods, in_dim, marks, steps, device):
    """{name: [(ticks, median ms per tick, state bytes)] at each mark (in ticks)}. The timed ticks alternate
    between the methods, so a machine whose load changes slows them alike."""
    states = {name: method.stream_init(1, device) for name, (method, _) in methods.items()}
    rows, seen = {name: [] for name in methods}, 0
    with torch.no_grad():
        for mark in marks:
            for name, (method, _) in methods.items():
                for _ in range(mark - seen):
                    states[name] = method.stream_step(torch.randn(1, in_dim, device=device), states[name])
            times = {name: [] for name in methods}
            for _ in range(steps):
                x = torch.randn(1, in_dim, device=device)
                for name, (method, _) in methods.items():
                    start = time.perf_counter()
                    states[name] = method.stream_step(x, states[name])
                    method.stream_readout(states[name])
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    times[name].append(time.perf_counter() - start)
            seen = mark + steps
            for name, (_, nbytes) in methods.items():
                rows[name].append((seen, 1000 * statistics.median(times[name]), nbytes(states[name])))
    return rows


def layer_step(d_model, steps, device, window=5 * FPS, n_head=8):
    """Median ms per step of Mamba.stream and of causal attention over `window` ticks (see --layer)."""
    from common.mixers import Mamba, MultiHeadSelfAttention
    torch.manual_seed(0)
    mamba = Mamba(d_model, d_state=16, d_conv=4, expand=2).to(device).eval()
    attn = MultiHeadSelfAttention(d_model, n_head=n_head).to(device).eval()
    head_dim = d_model // n_head
    causal = torch.ones(window, window, dtype=torch.bool, device=device).tril()
    state = dict(mamba=mamba.init_state(1, device), keys=torch.randn(1, n_head, window, head_dim, device=device),
                 values=torch.randn(1, n_head, window, head_dim, device=device),
                 tokens=torch.randn(1, window, d_model, device=device))

    def mamba_step(x):
        _, state["mamba"] = mamba.stream(x, state["mamba"])

    def cached_step(x):  # the new query against the window's cached keys and values
        q, k, v = attn.qkv(x).view(1, 1, 3, n_head, head_dim).permute(2, 0, 3, 1, 4)
        state["keys"] = torch.cat([state["keys"][:, :, 1:], k], dim=2)
        state["values"] = torch.cat([state["values"][:, :, 1:], v], dim=2)
        out = torch.nn.functional.scaled_dot_product_attention(q, state["keys"], state["values"])
        attn.proj(out.transpose(1, 2).reshape(1, 1, d_model))

    def window_step(x):  # the whole window again, causal
        state["tokens"] = torch.cat([state["tokens"][:, 1:], x], dim=1)
        q, k, v = attn.qkv(state["tokens"]).view(1, window, 3, n_head, head_dim).permute(2, 0, 3, 1, 4)
        out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=causal)
        attn.proj(out.transpose(1, 2).reshape(1, window, d_model))

    methods = {"Mamba.stream, 1 token": mamba_step,
               f"causal attention, 1 query over {window} cached keys": cached_step,
               f"causal attention, {window}-tick window recomputed": window_step}
    times = {name: [] for name in methods}
    with torch.no_grad():
        for i in range(steps + 10):  # the first 10: warm-up (numba compilation included)
            x = torch.randn(1, 1, d_model, device=device)
            for name, fn in methods.items():
                start = time.perf_counter()
                fn(x)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                if i >= 10:
                    times[name].append(time.perf_counter() - start)
    return {name: (1000 * statistics.median(t), 1000 * statistics.quantiles(t, n=10)[-1]) for name, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(CONFIGS), default="ek100")
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 10, 60])
    parser.add_argument("--steps", type=int, default=50, help="ticks timed at each mark")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--layer", action="store_true", help="one layer's step: Mamba.stream vs causal attention")
    parser.add_argument("--d-model", type=int, default=1024, help="with --layer")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.layer:
        print(f"one layer, batch 1, d {args.d_model}, device {device}, torch threads {torch.get_num_threads()}, "
              f"{args.steps} timed steps (median, 90th percentile)")
        print("| step | ms (median) | ms (p90) |\n|---|---:|---:|")
        results = layer_step(args.d_model, args.steps, device)
        for name, (median, p90) in results.items():
            print(f"| {name} | {median:.3f} | {p90:.3f} |")
        mamba_ms = results["Mamba.stream, 1 token"][0]
        for name, (median, _) in list(results.items())[1:]:
            print(f"  Mamba.stream / ({name}) = {mamba_ms / median:.2f}")
        return
    marks = [int(m * 60 * FPS) for m in args.minutes]

    with tempfile.TemporaryDirectory() as tmp:
        models = []
        for config in CONFIGS[args.scale]:
            cfg = load_config(config)
            if args.scale == "ek100":
                cfg.model.annotations = ek100_sized_annotations(tmp)
            models.append(MODELS.build(cfg.model).to(device).eval())
    testra, mamba = models
    in_dim = testra.feature_head_work.input_linear[0].in_features
    methods = {"TeSTra stream (ESA, O(1))": (testra, lambda s: s.nbytes()),
               "TeSTra window recompute": (Recompute(testra), Recompute.nbytes),
               "Mamba stream": (mamba, lambda s: s.nbytes())}
    print(f"scale {args.scale}, device {device}, torch threads {torch.get_num_threads()}, "
          f"{args.steps} timed ticks per mark (median)")
    print("| method | " + " | ".join(f"{m:g} min: ms/tick" for m in args.minutes) + " | state memory (KiB) |")
    print("|---|" + "---|" * len(args.minutes) + "---|")
    results = bench(methods, in_dim, marks, args.steps, device)
    for name, rows in results.items():
        memory = " / ".join(f"{b / 1024:.0f}" for _, _, b in rows)
        print(f"| {name} | " + " | ".join(f"{ms:.2f}" for _, ms, _ in rows) + f" | {memory} |")
    print("\nratios (per-tick latency):")
    for name, rows in results.items():
        print(f"  {name}: " + ", ".join(f"{m:g} min / {args.minutes[0]:g} min = {ms / rows[0][1]:.2f}"
                                        for m, (_, ms, _) in zip(args.minutes[1:], rows[1:])))
    names = list(results)
    for i, m in enumerate(args.minutes):
        stream, recompute, mamba_ms = (results[n][i][1] for n in names)
        print(f"  at {m:g} min: recompute / TeSTra stream = {recompute / stream:.2f}, "
              f"TeSTra stream / Mamba stream = {stream / mamba_ms:.2f}")


if __name__ == "__main__":
    main()
