#!/usr/bin/env bash
# The CUDA path on a GPU machine, in one command (run from anywhere; it works in the repository root):
#
#   tools/gpu_check.sh [--wheels DIR] [--steps install,test,bench,report] [--dry-run]
#
#   install  mamba-ssm and causal-conv1d (the pins of the Makefile's CUDA_PACKAGES) for this machine's torch,
#            which is never replaced: from DIR (--wheels, or $VMS_WHEELS) without the network, where DIR holds
#            prebuilt wheels or the sdists plus what they import (README "Install"), else built from the package
#            index (needs nvcc and the network). Skipped when both already import with their kernels.
#   test     pytest -m cuda: the kernels against the sequential reference, every mixer and every task's
#            compare configs (baseline and variants) on CUDA against the same weights on CPU.
#   bench    tools/bench_scan.py --gpu (mamba-ssm's kernel vs our torch scan over L up to 64k) and
#            tools/bench_mixers.py (kernel vs torch scan vs attention, one layer forward+backward, L up to 64k).
#   report   docs/benchmarks_gpu.md: device, versions, the commands and what they printed.
# Each step logs to work_dirs/gpu_check/<step>.log; a later `--steps report` assembles what is there, so the
# steps can run as separate commands. The exit status is non-zero when a step failed (the report says which).
#
# --dry-run (any machine, a CPU one too): checks the environment and the wheel folder, prints the install
# commands instead of running them, runs the CPU half of every other step (the cuda path's stand-in tests,
# `pytest -m cuda`, which skips without a GPU, and the benchmarks' CPU smoke runs) and writes the report to
# work_dirs/gpu_check/benchmarks_gpu.dry-run.md, never to docs/.
#
# Environment: PYTHON (default .venv/bin/python, else python3), VMS_WHEELS, MAX_JOBS (parallel compile jobs,
# default: the CPU count).
# shellcheck disable=SC2329  # the steps are called as "step_$step"
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
LOGS=$ROOT/work_dirs/gpu_check
WHEELS=${VMS_WHEELS:-}
STEPS=install,test,bench,report
DRY_RUN=0

usage() { sed -n '2,/^# shellcheck/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }
die() { echo "gpu_check: $*" >&2; exit 1; }
say() { echo "== gpu_check: $*"; }

while [ $# -gt 0 ]; do
    case $1 in
        --wheels) [ $# -ge 2 ] || die "--wheels needs a folder"; WHEELS=$2; shift 2 ;;
        --wheels=*) WHEELS=${1#*=}; shift ;;
        --steps) [ $# -ge 2 ] || die "--steps needs a list"; STEPS=$2; shift 2 ;;
        --steps=*) STEPS=${1#*=}; shift ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h|--help) usage ;;
        *) echo "gpu_check: unknown argument $1" >&2; usage 2 ;;
    esac
done
for step in ${STEPS//,/ }; do
    case $step in install|test|bench|report) ;; *) die "unknown step '$step' (install, test, bench, report)" ;; esac
done
wants() { [[ ",$STEPS," == *",$1,"* ]]; }
dry_flag() { if [ "$DRY_RUN" = 1 ]; then echo " --dry-run"; fi; }

if [ -n "${PYTHON:-}" ]; then PY=$PYTHON
elif [ -x .venv/bin/python ]; then PY=.venv/bin/python
else PY=python3
fi
command -v "$PY" > /dev/null || die "no python at '$PY' (set PYTHON)"
mkdir -p "$LOGS"
REPORT=$ROOT/docs/benchmarks_gpu.md
[ "$DRY_RUN" = 1 ] && REPORT=$LOGS/benchmarks_gpu.dry-run.md

# The pins live in the Makefile (CUDA_PACKAGES) and pyproject's `cuda` extra; a test keeps them equal.
read -r -a PACKAGES <<< "$(sed -n 's/^CUDA_PACKAGES := //p' Makefile)"
[ "${#PACKAGES[@]}" = 2 ] || die "could not read CUDA_PACKAGES from the Makefile"
# What importing mamba-ssm needs at run time (its declared dependencies add GPU kernels we never call).
RUNTIME_DEPS=(einops transformers)

torch_info=$("$PY" -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available())') \
    || die "$PY cannot import torch: install the CUDA torch build first (README Install)"
read -r TORCH_VERSION TORCH_CUDA HAVE_GPU <<< "$torch_info"
say "python $PY, torch $TORCH_VERSION (CUDA $TORCH_CUDA), GPU available: $HAVE_GPU"
if [ "$DRY_RUN" = 0 ] && [ "$HAVE_GPU" != True ]; then
    die "torch sees no CUDA device (torch.cuda.is_available() is False); use --dry-run to check this script on a CPU"
fi

quoted() { printf '%s' "$1"; shift; printf ' %q' "$@"; echo; }

run() {  # run CMD...: echo it, run it unless this is a dry run
    quoted + "$@"
    [ "$DRY_RUN" = 1 ] || "$@"
}

kernels_import() {
    "$PY" - "${PACKAGES[@]}" <<'EOF' 2> /dev/null
import importlib.metadata, sys
import torch  # noqa: F401  (first: the kernels link against its libraries)
import selective_scan_cuda, causal_conv1d_cuda  # noqa: F401  (the compiled kernels)
import mamba_ssm, causal_conv1d  # noqa: F401
for pin in sys.argv[1:]:
    name, version = pin.split("==")
    assert importlib.metadata.version(name) == version, pin
EOF
}

step_install() {
    if [ "$DRY_RUN" = 0 ] && kernels_import; then
        say "install: ${PACKAGES[*]} already import with their kernels; nothing to do"
        return
    fi
    local constraints=$LOGS/torch-constraint.txt
    echo "torch==$TORCH_VERSION" > "$constraints"  # pip must keep this machine's torch build
    # --force-reinstall: `make install` may have put their Python-only builds (same versions) here
    local -a pip=("$PY" -m pip install --no-build-isolation --no-deps --force-reinstall) from=()
    local building=1 pin name found wheels=0
    if [ -n "$WHEELS" ]; then
        [ -d "$WHEELS" ] || die "wheel folder '$WHEELS' does not exist"
        for pin in "${PACKAGES[@]}"; do
            name=${pin%%==*}
            found=$(find "$WHEELS" -maxdepth 1 -name "${name//-/_}-${pin#*==}-*.whl" -print -quit)
            [ -n "$found" ] && wheels=$((wheels + 1))
            [ -n "$found" ] || found=$(find "$WHEELS" -maxdepth 1 \( -name "${name//-/_}-${pin#*==}.tar.gz" \
                -o -name "${name}-${pin#*==}.tar.gz" \) -print -quit)
            [ -n "$found" ] || die "no wheel or sdist of $pin in $WHEELS (README Install: pip wheel / pip download)"
            say "install: $pin from $found"
        done
        [ "$wheels" = "${#PACKAGES[@]}" ] && building=0
        from=(--no-index --find-links "$WHEELS")
    fi
    if [ "$building" = 1 ]; then  # compiling here: nvcc, and setup.py's own imports (no build isolation)
        [ "$DRY_RUN" = 1 ] || command -v nvcc > /dev/null || [ -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ] \
            || die "no nvcc to compile the kernels: build wheels elsewhere and pass --wheels DIR (README Install)"
        if ! "$PY" -c 'import ninja, packaging, setuptools, wheel' 2> /dev/null; then
            run env PIP_CONSTRAINT="$constraints" "$PY" -m pip install "${from[@]}" ninja packaging setuptools wheel \
                || die "installing the build tools (ninja packaging setuptools wheel) failed"
        fi
    fi
    # FORCE_BUILD: compile for this torch; their setup.py would otherwise download upstream's guess of a wheel
    run env MAMBA_FORCE_BUILD=TRUE CAUSAL_CONV1D_FORCE_BUILD=TRUE MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
        PIP_CONSTRAINT="$constraints" "${pip[@]}" "${from[@]}" "${PACKAGES[@]}" \
        || die "installing ${PACKAGES[*]} failed"
    if ! "$PY" -c "import triton; $(printf 'import %s; ' "${RUNTIME_DEPS[@]}")" 2> /dev/null; then
        run env PIP_CONSTRAINT="$constraints" "$PY" -m pip install "${from[@]}" triton "${RUNTIME_DEPS[@]}" \
            || die "installing what mamba-ssm imports (triton ${RUNTIME_DEPS[*]}) failed"
    fi
    if [ "$DRY_RUN" = 0 ]; then
        kernels_import || die "${PACKAGES[*]} installed but their kernels do not import (built for another torch/CUDA?)"
        "$PY" -c 'from common.ops.scan_cuda import cuda_available; assert cuda_available()' \
            || die "common.ops cannot load mamba-ssm's selective_scan_fn"
    fi
}

shown() {  # shown CMD...: echo it, run it (a step's commands go into its log)
    quoted '$' "$@"
    "$@"
}

step_test() {
    local rc=0
    if [ "$DRY_RUN" = 1 ]; then  # the CPU half: the cuda path through the stand-in kernels
        shown "$PY" -m pytest -q -p no:cacheprovider --disable-warnings -m "not cuda" tests/test_cuda_interfaces.py \
            tests/test_cuda_models.py || rc=1
    fi
    shown "$PY" -m pytest -q -p no:cacheprovider --disable-warnings -m cuda -rs tests || rc=1
    return "$rc"
}

BENCH_SCAN=(tools/bench_scan.py --gpu --lengths 1024 4096 16384 65536)
BENCH_MIXERS=(tools/bench_mixers.py --scan-backends cuda torch --lengths 512 2304 8192 32768 65536 --timeout 300)
if [ "$DRY_RUN" = 1 ]; then  # their CPU smoke runs: the GPU options need a GPU
    BENCH_SCAN=(tools/bench_scan.py --quick --skip-ref)
    BENCH_MIXERS=(tools/bench_mixers.py --scan-backends auto torch --lengths 256 --d-model 64 --repeats 1 --timeout 120)
fi

step_bench() {
    local rc=0
    shown "$PY" "${BENCH_SCAN[@]}" || rc=1
    echo
    shown "$PY" "${BENCH_MIXERS[@]}" || rc=1
    return "$rc"
}

log_or_missing() {  # the log of a step, or why there is none
    if [ -f "$LOGS/$1.log" ]; then cat "$LOGS/$1.log"; else echo "(no $1 log: run tools/gpu_check.sh --steps $1)"; fi
}

step_report() {
    local device versions status
    device=$("$PY" -c 'import torch; print(torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU")')
    if command -v nvidia-smi > /dev/null; then
        device="$device ($(nvidia-smi --query-gpu=driver_version,memory.total --format=csv,noheader | head -1 \
            | sed 's/^/driver /'))"
    fi
    versions=$("$PY" - "${PACKAGES[@]}" <<'EOF'
import importlib.metadata, sys
import torch
found = []
for pin in sys.argv[1:]:
    name = pin.split("==")[0]
    try:
        found.append(f"{name} {importlib.metadata.version(name)}")
    except importlib.metadata.PackageNotFoundError:
        found.append(f"{name} not installed")
print(f"torch {torch.__version__} (CUDA {torch.version.cuda}), " + ", ".join(found))
EOF
)
    status=$(for step in install test bench; do cat "$LOGS/$step.status" 2> /dev/null || true; done)
    {
        echo "# GPU check"
        echo
        [ "$DRY_RUN" = 1 ] && echo "**Dry run on a machine without a GPU: CPU smoke figures, not GPU ones.**" && echo
        echo "Written by \`tools/gpu_check.sh --steps $STEPS${WHEELS:+ --wheels $WHEELS}$(dry_flag)\`"
        echo "on $(date -u '+%Y-%m-%d %H:%M UTC'),"
        echo "commit $(git rev-parse --short HEAD 2> /dev/null || echo unknown)."
        echo
        echo "- device: $device"
        echo "- versions: $versions"
        echo "- load average at the report: $(cut -d' ' -f1-3 /proc/loadavg)"
        echo
        echo "## Steps"
        echo
        echo '```'
        echo "${status:-no step ran}"
        echo '```'
        echo
        echo "## Tests"
        echo
        echo '```'
        log_or_missing test | tail -n 40
        echo '```'
        echo
        echo "## Benchmarks"
        echo
        log_or_missing bench
    } > "$REPORT"
    say "report: $REPORT"
}

failed=0
for step in install test bench report; do
    wants "$step" || continue
    say "$step"
    if [ "$step" = report ]; then
        step_report
        continue
    fi
    start=$(date +%s)
    rm -f "$LOGS/$step.status"
    if "step_$step" 2>&1 | tee "$LOGS/$step.log"; then result=ok; else result=FAILED; failed=1; fi
    echo "$step: $result in $(( $(date +%s) - start )) s$(dry_flag)" > "$LOGS/$step.status"
    say "$(cat "$LOGS/$step.status")"
done
exit "$failed"
