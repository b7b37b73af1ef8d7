"""Imports mmaction2 1.2.0 the way it installs here, before anything asks its registries for a module.

Two defects of the released wheel stop `import mmaction.models`:
- `mmaction/models/localizers/__init__.py` imports `.drn.drn.DRN`, a package the wheel does not ship
  (open-mmlab/mmaction2 issue #2714). A stand-in module takes its place; building a DRN says why it fails.
- with transformers >= 4.28 installed, mmaction imports its multimodal models, written for an older
  transformers API; the video models here never use them, so they are switched off.
mmcv-lite's warning that its compiled deformable attention is missing is silenced (no video model uses it).
The registries import `mmaction.models` / `.datasets` / `.evaluation` lazily (their `locations`), so this
module must run first: importing `videomamba_st` does it.
"""
import sys
import types
import warnings


class MissingDRN:
    """What the wheel's missing DRN localizer becomes: a clear error if anyone builds it."""

    def __init__(self, *args, **kwargs):
        raise ImportError("mmaction.models.localizers.drn is missing from the mmaction2 1.2.0 wheel "
                          "(open-mmlab/mmaction2 issue #2714); DRN cannot be built from it")


def _stub_missing_drn():
    if "mmaction.models.localizers.drn" in sys.modules:
        return
    package = types.ModuleType("mmaction.models.localizers.drn")
    package.__path__ = []
    module = types.ModuleType("mmaction.models.localizers.drn.drn")
    module.DRN = MissingDRN
    package.drn = module
    sys.modules[package.__name__] = package
    sys.modules[module.__name__] = module


def import_mmaction():
    import mmaction.utils.dependency

    mmaction.utils.dependency.WITH_MULTIMODAL = False
    _stub_missing_drn()
    with warnings.catch_warnings():  # mmcv-lite has no compiled ops; mmaction's video models need none
        warnings.filterwarnings("ignore", message=".*MultiScaleDeformableAttention.*")
        import mmaction.datasets  # noqa: F401  (registers the datasets and transforms)
        import mmaction.evaluation  # noqa: F401
        import mmaction.models  # noqa: F401


import_mmaction()
