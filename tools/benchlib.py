"""Benchmark harness: every measurement runs in its own subprocess, so peak memory is that
measurement's alone and an out-of-memory or a run past its time limit is reported as such instead
of taking the whole benchmark down. Ratios are always computed between runs of one invocation."""
import json
import resource
import statistics
import subprocess
import sys
import time

MEMORY_LIMIT_GIB = 18  # of our 24 GiB machines; beyond it a worker reports OOM


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2 ** 20


def start_peak_rss() -> float:
    """Resets the resident set's high-water mark, so that peak_rss_mib() sees only what follows (a
    warm-up's peak, e.g. the JIT compiling, would otherwise hide a lower later one); returns the RSS now.
    Where the kernel refuses the reset, the peak stays the process's lifetime peak."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    return rss_mib()


def peak_rss_mib() -> float:
    """The resident set's high-water mark (since start_peak_rss())."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median_time(fn, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(script: str, spec: dict, timeout: float) -> dict:
    """Runs `python script --worker SPEC`; returns its JSON result, or {"status": "OOM" | "too slow
    (> Ns)" | "failed: ..."}."""
    cmd = [sys.executable, script, "--worker", json.dumps(spec)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": f"too slow (> {timeout:.0f} s)"}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if lines:
        return json.loads(lines[-1])
    if proc.returncode in (-9, 137) or "MemoryError" in proc.stderr or "can't allocate" in proc.stderr:
        return {"status": "OOM"}
    return {"status": f"failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}"}


def worker_main(run):
    """Entry of a worker process: caps memory, runs `run(spec) -> dict`, prints it as JSON. A CUDA worker
    (spec["device"] == "cuda") is not capped: CUDA reserves far more address space than it uses, and the
    GPU's own out-of-memory error is reported as OOM."""
    spec = json.loads(sys.argv[sys.argv.index("--worker") + 1])
    if spec.get("device") != "cuda":
        limit = MEMORY_LIMIT_GIB * 2 ** 30
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        result = run(spec)
    except (MemoryError, RuntimeError) as err:
        if isinstance(err, MemoryError) or "memory" in str(err).lower():
            result = {"status": "OOM"}
        else:
            raise
    print(json.dumps(result), flush=True)


class PeakMemory:
    """Peak memory growth (MiB) from construction to `mib()`: resident set on CPU, allocated GPU memory on
    CUDA (the resident set does not see it)."""

    def __init__(self, device: str):
        self.cuda = device == "cuda"
        if self.cuda:
            import torch
            torch.cuda.reset_peak_memory_stats()
            self.start = torch.cuda.memory_allocated() / 2 ** 20
        else:
            self.start = start_peak_rss()

    def mib(self) -> float:
        if self.cuda:
            import torch
            return torch.cuda.max_memory_allocated() / 2 ** 20 - self.start
        return peak_rss_mib() - self.start


def fmt(result: dict, key: str, digits: int = 3) -> str:
    return f"{result[key]:.{digits}f}" if key in result else result.get("status", "n/a")
