# Two set-up commands that work on a fresh machine (see README):
#   make demo   installs into .venv and runs the main job on its embedded toy default (TASK=name: one task)
#   make test   installs into .venv and runs the test suite
# TORCH_SPEC picks the torch build installed first; the default is the CPU wheel our machines carry.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# mamba-ssm and causal-conv1d, Python code only (no CUDA build; the pins of pyproject's `cuda` extra): the
# tests run our cuda backend through their interfaces against stand-in kernels (tests/cuda_standin.py).
CUDA_PACKAGES := mamba-ssm==2.3.2.post1 causal-conv1d==1.7.0
# open_clip_torch for one data file, CLIP's BPE vocabulary (egocentric_mamba/tokenizer.py): --no-deps, never imported.
VOCAB_PACKAGES := open_clip_torch==3.3.0
PYTHON_ONLY := MAMBA_SKIP_CUDA_BUILD=TRUE MAMBA_FORCE_BUILD=TRUE \
	CAUSAL_CONV1D_SKIP_CUDA_BUILD=TRUE CAUSAL_CONV1D_FORCE_BUILD=TRUE

.PHONY: demo test install clean

$(STAMP): pyproject.toml constraints.txt
	@command -v java >/dev/null || { echo "error: no java on PATH: pdvc_mamba's caption metrics (pycocoevalcap's" \
		"METEOR and PTB tokenizer) run on a Java runtime; install one, e.g. apt-get install openjdk-17-jre-headless" >&2; \
		exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	PIP_CONSTRAINT=$(CURDIR)/constraints.txt $(PY) -m pip install -q -e ".[test,cuda-standin,video,text]"
	$(PY) -m pip install -q --no-deps $(VOCAB_PACKAGES)
	$(PYTHON_ONLY) PIP_CONSTRAINT=$(CURDIR)/constraints.txt $(PY) -m pip install -q --no-deps \
		--no-build-isolation $(CUDA_PACKAGES)
	# yapf (via mmengine) writes its grammar cache on first import: once here, not raced by test workers
	$(PY) -c "import mmengine"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) tools/demo.py $(if $(TASK),--task $(TASK))

test: $(STAMP)
	$(PY) -m pytest -q -n 2 tests

clean:
	rm -rf $(VENV) work_dirs data/toy
