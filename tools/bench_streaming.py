"""Online anticipation cost per 4 fps tick after 1, 10 and 60 minutes of video: TeSTra streaming (its O(1)
ESA update), TeSTra recomputing its whole window every tick, and the causal Mamba stream.

    python tools/bench_streaming.py [--scale ek100|toy] [--minutes 1 10 60] [--steps 50] [--device cpu|cuda]

--scale ek100 (default) builds the models of testra_mamba/configs/testra_ek100.py and mamba_stream_ek100.py with
EK100's class counts (97 verbs, 300 nouns, 3806 actions, written to a temporary annotation folder); toy builds
the toy configs' models (reads data/toy/testra_mamba/annotations). Features are random: the cost does not
depend on them. Each model consumes the video tick by tick (state updates; the readouts in between change no
state and are skipped, TeSTra's recompute only buffers the features), and at each mark `steps` ticks of
update + readout are timed (median), alternating between the models so that changing load hits all alike.
State memory: TeSTra stream = ESA sums, logit / value and feature rings; recompute = the window's raw
features; Mamba = per layer its conv inputs and SSM state.
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(CONFIGS), default="ek100")
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 10, 60])
    parser.add_argument("--steps", type=int, default=50, help="ticks timed at each mark")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
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
