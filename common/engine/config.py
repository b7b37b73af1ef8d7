"""Reading configs and the overrides users give them, so that a mistyped key is an error, not a no-op.

mmengine's `merge_from_dict` adds any key it is given: `train_cfg.max_epoch=2` (for max_epochs) would
train the full schedule and report its score as if the override had applied. Here every override
key must name an entry the config has, a list index it has, or an argument that the class the
enclosing dict builds accepts (its `type`, looked up in mmengine's registries).
"""
import copy
import difflib
import inspect
import os.path as osp

from mmengine import registry
from mmengine.config import Config, DictAction
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop, Runner, TestLoop, ValLoop

# Dicts the Runner builds without a `type` key, and what it builds from them.
_IMPLICIT_BUILDERS = {
    "train_cfg": lambda node: EpochBasedTrainLoop if node.get("by_epoch", True) else IterBasedTrainLoop,
    "val_cfg": lambda node: ValLoop,
    "test_cfg": lambda node: TestLoop,
    "randomness": lambda node: Runner.set_randomness,
}
_REGISTRIES = [getattr(registry, name) for name in dir(registry)
               if isinstance(getattr(registry, name), registry.Registry)]


def parse_overrides(pairs) -> dict:
    """KEY=VALUE strings -> the dict `--cfg-options` gives (mmengine DictAction's value syntax)."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"override {pair!r} is not KEY=VALUE")
        options[key] = DictAction._parse_iterable(value)
    return options


def load_config(path: str, cfg_options: dict | None = None) -> Config:
    """Read an mmengine python config (importing its `custom_imports`), then apply overrides, each
    checked by `check_override_key`."""
    if not osp.isfile(path):
        raise FileNotFoundError(f"config file {path!r} not found (expected an mmengine .py config)")
    cfg = Config.fromfile(path)
    if cfg_options:
        for key in cfg_options:
            check_override_key(cfg, key, path)
        cfg.merge_from_dict(cfg_options)
    return cfg


def check_override_key(cfg: Config, full_key: str, source: str = "the config") -> None:
    """Raise a ValueError unless `full_key` (dotted, list indices as digits) reaches an existing entry
    of `cfg`, or names an argument of the class its enclosing dict builds."""
    node, parts = cfg._cfg_dict, full_key.split(".")
    for depth, part in enumerate(parts):
        where = ".".join(parts[:depth]) or "the top level"
        if isinstance(node, (list, tuple)):
            if part.isdigit() and int(part) < len(node):
                node = node[int(part)]
                continue
            raise ValueError(f"override {full_key!r}: {where} of {source} is a list of {len(node)} entries; "
                             f"{part!r} is not one of its indices")
        if not isinstance(node, dict):
            raise ValueError(f"override {full_key!r}: {where} of {source} is {node!r}, not a dict to set "
                             f"{part!r} in")
        if part in node:
            node = node[part]
            continue
        accepted = _accepted_arguments(node, where, depth, cfg.get("default_scope"))
        if depth == len(parts) - 1 and part in accepted:
            return
        known = sorted(set(node) | accepted)
        close = difflib.get_close_matches(part, known, n=3)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else f"; it has {known}"
        raise ValueError(f"override {full_key!r}: {where} of {source} has no key {part!r}{hint}")


def check_work_dir(cfg: Config, work_dir: str, source: str = "the config") -> None:
    """A work dir given as a bare name that is a key of `cfg` (`max_epochs`, `train_cfg`) is a mistyped
    override (TASK/train.sh CONFIG [WORK_DIR] [KEY=VALUE ...]), not a directory; ./NAME means one."""
    if "/" in work_dir or work_dir.startswith("."):
        return
    keys, stack = set(), [cfg._cfg_dict]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            keys |= set(map(str, node))
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
    if work_dir in keys:
        raise ValueError(f"work dir {work_dir!r} is a key of {source}: a mistyped override (KEY=VALUE)? For a "
                         f"directory of that name write ./{work_dir}")


def _accepted_arguments(node: dict, where: str, depth: int, scope: str | None) -> set:
    """Argument names of what `node` builds (through every **kwargs-forwarding base class)."""
    if depth == 0:
        builder = Runner
    elif "type" in node:
        builder = _lookup(node["type"], scope)
    else:
        implicit = _IMPLICIT_BUILDERS.get(where)
        builder = implicit(node) if implicit else None
    if builder is None:
        return set()
    names = set()
    for fn in ([c.__init__ for c in builder.__mro__] if inspect.isclass(builder) else [builder]):
        try:
            params = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):
            break
        names |= {p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)} - {"self"}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return names


def _lookup(type_, scope: str | None):
    """The class a `type` names: in the config's default scope first (a downstream library such as
    mmaction registers in child registries that mmengine's root ones do not search), then the roots."""
    if not isinstance(type_, str):
        return type_
    keys = ([f"{scope}.{type_}"] if scope and "." not in type_ else []) + [type_]
    for key in keys:
        for reg in _REGISTRIES:
            try:
                found = reg.get(key)
            except (KeyError, ImportError):  # a child registry whose library registers elsewhere
                found = None
            if found is not None:
                return found
    return None


def config_differences(a, b, prefix: str = "") -> list[str]:
    """Dotted paths where two config trees (dicts / lists / values) differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        diffs = []
        for key in sorted(set(a) | set(b), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in a or key not in b:
                diffs.append(path)
            else:
                diffs += config_differences(a[key], b[key], path)
        return diffs
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in config_differences(x, y, f"{prefix}.{i}")]
    return [] if a == b else [prefix]



def scale_schedule(cfg: Config, epochs: int) -> Config:
    """The same schedule, shorter or longer: `epochs` training epochs with every epoch-valued setting
    scaled alike (warm-up and decay ranges of the param schedulers, T_max, milestones, plateau patience,
    validation and checkpoint intervals), so a short run is a short version of the whole schedule rather
    than its first epochs. Returns a new Config."""
    old = cfg.train_cfg.max_epochs
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    cfg = copy.deepcopy(cfg)
    factor = epochs / old

    def scaled(value, at_least=1):
        return max(at_least, round(value * factor))

    cfg.train_cfg.max_epochs = epochs
    if "val_interval" in cfg.train_cfg:
        cfg.train_cfg.val_interval = min(epochs, scaled(cfg.train_cfg.val_interval))
    checkpoint = cfg.get("default_hooks", {}).get("checkpoint")
    if checkpoint is not None and checkpoint.get("by_epoch", True) and "interval" in checkpoint:
        checkpoint.interval = min(epochs, scaled(checkpoint.interval))
    schedulers = cfg.get("param_scheduler") or []
    for scheduler in ([schedulers] if isinstance(schedulers, dict) else schedulers):
        begin, end = scheduler.get("begin", 0), scheduler.get("end")
        new_begin = round(begin * factor)
        if end is not None:
            new_end = epochs if end >= old else max(new_begin + 1, round(end * factor))
            if "T_max" in scheduler and scheduler.T_max == end - begin:
                scheduler.T_max = new_end - new_begin
            scheduler.end = new_end
        elif "T_max" in scheduler:
            scheduler.T_max = scaled(scheduler.T_max)
        if "begin" in scheduler:
            scheduler.begin = new_begin
        if "milestones" in scheduler:
            scheduler.milestones = [scaled(m) for m in scheduler.milestones]
        if "patience" in scheduler:
            scheduler.patience = scaled(scheduler.patience, at_least=0)
    return cfg
