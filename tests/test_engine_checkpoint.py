"""common.engine.checkpoint: plain contents for torch.load(weights_only=True), atomic files,
RNG state round trips."""
import io
import os
import random
from collections import OrderedDict, deque

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

from common.engine import (atomic_write_text, commit_file, restore_message_hub, rng_state,
                           set_rng_state, to_plain)


def weights_only_round_trip(obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return torch.load(buffer)  # torch >= 2.6 default: weights_only=True


def test_to_plain_makes_mmengine_state_loadable_and_restorable():
    state = dict(
        log_scalars=OrderedDict(loss=HistoryBuffer([0.5, 0.25], [1, 2], max_length=7)),
        runtime_info=dict(score=np.float64(0.75), step=np.int64(3), ids=deque([1, 2]),
                          arr=np.arange(3, dtype=np.int32)),
        resumed_keys=dict(loss=True))
    with pytest.raises(Exception, match="weights_only|Unsupported global"):
        weights_only_round_trip(state)

    loaded = restore_message_hub(weights_only_round_trip(to_plain(state)))

    buf = loaded["log_scalars"]["loss"]
    assert isinstance(buf, HistoryBuffer) and buf.max_length == 7
    np.testing.assert_array_equal(buf.data[0], [0.5, 0.25])
    np.testing.assert_array_equal(buf.data[1], [1, 2])
    assert buf.mean() == pytest.approx((0.5 + 0.25) / (1 + 2))
    info = loaded["runtime_info"]
    assert info["score"] == 0.75 and type(info["score"]) is float
    assert info["step"] == 3 and type(info["step"]) is int
    assert info["ids"] == [1, 2]
    assert torch.equal(info["arr"], torch.tensor([0, 1, 2], dtype=torch.int32))


def test_to_plain_keeps_state_dict_versions():
    state_dict = torch.nn.BatchNorm1d(3).state_dict()
    loaded = weights_only_round_trip(to_plain(dict(state_dict=state_dict)))["state_dict"]
    assert loaded._metadata == state_dict._metadata == {"": {"version": 2}}
    assert all(torch.equal(loaded[k], v) for k, v in state_dict.items())


def test_to_plain_names_the_entry_it_cannot_store():
    with pytest.raises(TypeError, match=r"checkpoint\.meta\.extra\[1\] holds a builtins\.object"):
        to_plain(dict(meta=dict(extra=[1, object()])))


def test_rng_state_round_trip_through_a_weights_only_file():
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    np.random.normal()  # leaves a cached Gaussian in the numpy state
    state = weights_only_round_trip(rng_state())
    expected = (torch.rand(4), np.random.normal(size=4), random.random())
    random.seed(2), np.random.seed(2), torch.manual_seed(2)
    set_rng_state(state)
    assert torch.equal(torch.rand(4), expected[0])
    np.testing.assert_array_equal(np.random.normal(size=4), expected[1])
    assert random.random() == expected[2]


def test_atomic_write_keeps_the_old_file_when_interrupted(tmp_path, monkeypatch):
    target = tmp_path / "last_checkpoint"
    atomic_write_text(str(target), "epoch_1.pth")

    def crash(*args):
        raise KeyboardInterrupt  # a kill between writing the temporary file and renaming it
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(str(target), "epoch_2.pth")
    assert target.read_text() == "epoch_1.pth"
    assert os.listdir(tmp_path) == ["last_checkpoint"]

    monkeypatch.undo()
    atomic_write_text(str(target), "epoch_2.pth")
    assert target.read_text() == "epoch_2.pth"


def test_commit_file_replaces_the_target_whole(tmp_path):
    (tmp_path / "epoch_1.pth").write_bytes(b"old")
    (tmp_path / ".epoch_1.pth.partial").write_bytes(b"new contents")
    commit_file(str(tmp_path / ".epoch_1.pth.partial"), str(tmp_path / "epoch_1.pth"))
    assert (tmp_path / "epoch_1.pth").read_bytes() == b"new contents"
    assert os.listdir(tmp_path) == ["epoch_1.pth"]


@pytest.mark.parametrize("damage", ["head", "half", "garbage", "pickle_garbage", "empty"])
def test_every_damaged_checkpoint_is_named_unreadable(tmp_path, damage):
    """torch 2.13 words a damaged file in many ways (OSError, IndexError, RuntimeError, EOFError): each is
    the same error naming the file, never a traceback from inside torch."""
    from common.engine import CheckpointError, read_checkpoint
    path = tmp_path / "epoch_1.pth"
    torch.save({"state_dict": {"w": torch.randn(256, 256)}, "meta": {"epoch": 1}}, path)
    whole = path.read_bytes()
    path.write_bytes({"head": whole[:len(whole) // 40], "half": whole[:len(whole) // 2], "garbage": b"not a pth",
                      "pickle_garbage": b"\x80\x02abcdefg", "empty": b""}[damage])
    with pytest.raises(CheckpointError, match=f"checkpoint {path} is unreadable: empty, truncated or corrupt"):
        read_checkpoint(str(path))
