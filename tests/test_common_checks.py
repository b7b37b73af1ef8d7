"""common.checks / common.segments / common.io: the shared input checks, the one tIoU, the array reader."""
import os

import numpy as np
import pytest
import torch

from common.checks import InputError, check_array, check_finite, check_labels, check_lengths, check_segments, \
    check_targets
from common.io import array_shape, built_aside, load_array, load_data_pickle, load_json, load_jsonl, \
    written_aside
from common.segments import paired_segment_iou, segment_iou


def test_segments_valid_pass_through_as_float64():
    out = check_segments([[0, 1.5], [2, 2]], "ann.json", duration=3)
    assert out.dtype == np.float64 and out.tolist() == [[0, 1.5], [2, 2]]
    assert check_segments([], "ann.json").shape == (0, 2)
    assert check_segments([1, 2], "ann.json").shape == (1, 2)


@pytest.mark.parametrize("segments, duration, message", [
    ([[0, 1], [5, 2]], None, "ann.json: video 'v': segment 1: end 2 is before start 5"),
    ([[0, float("nan")]], None, "ann.json: video 'v': segment [0.0, nan] is not finite"),
    ([[-1, 2]], None, "starts before 0"),
    ([[1, 12]], 10, "ends after the video's duration 10"),
    ([[1, 2]], 0, "duration 0 is not a positive number"),
    ([[1, 2, 3]], None, "expected [start, end] segments"),
    ([["a", "b"]], None, "expected [start, end] segments as numbers"),
])
def test_segments_errors_name_the_source_and_the_segment(segments, duration, message):
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
        check_segments(segments, "ann.json", "video 'v'", duration=duration)


def test_segments_tolerance_and_empty():
    check_segments([[-0.5, 10.5]], "a", duration=10, tolerance=0.5)
    with pytest.raises(InputError, match="at least one segment"):
        check_segments([], "a", allow_empty=False)


def test_labels():
    assert check_labels([0, 2.0, 1], 3, "list.txt").tolist() == [0, 2, 1]
    assert check_labels([-1, 0], 3, "t", ignore=(-1,)).tolist() == [-1, 0]
    with pytest.raises(InputError, match=r"list.txt: line 3: label 3 outside the 3 classes \[0, 3\)"):
        check_labels([3], 3, "list.txt", "line 3")
    with pytest.raises(InputError, match="must be integers"):
        check_labels([0.5], 3, "t")
    with pytest.raises(InputError, match="expected integer labels"):
        check_labels([True], 3, "t")


def test_targets_kinds():
    check_targets([[0, 1, 0]], "one_hot", "t", num_classes=3)
    check_targets([[1, 1, 0]], "multi_hot", "t")
    check_targets([[0.25, 0.75]], "soft", "t")
    with pytest.raises(InputError, match=r"row 0 has 2"):
        check_targets([[1, 1, 0]], "one_hot", "t")
    with pytest.raises(InputError, match=r"entries 0 or 1\), found 0.5 at row 1, class 0"):
        check_targets([[0, 1], [0.5, 0.5]], "multi_hot", "f.npy")
    with pytest.raises(InputError, match="row 0 has 0"):
        check_targets([[0, 0]], "multi_hot", "f.npy")
    with pytest.raises(InputError, match="sums to 1.5"):
        check_targets([[0.5, 1.0]], "soft", "t")
    with pytest.raises(InputError, match=r"over 4 classes"):
        check_targets([[0, 1]], "one_hot", "t", num_classes=4)
    with pytest.raises(InputError, match="NaN or Inf"):
        check_targets([[np.nan, 1]], "soft", "t")


def test_targets_and_finite_name_the_rows_given():
    # rows 40 and 44 of a file, read as a (2, C) selection: messages name the file's rows
    with pytest.raises(InputError, match=r"f.npy: expected multi-hot targets \(entries 0 or 1\), found 0.5 at row 44"):
        check_targets([[1, 0], [0, 0.5]], "multi_hot", "f.npy", row_numbers=[40, 44])
    with pytest.raises(InputError, match=r"f.npy: expected multi-hot .* row 40 has 0"):
        check_targets([[0, 0], [0, 1]], "multi_hot", "f.npy", row_numbers=[40, 44])
    with pytest.raises(InputError, match=r"f.npy: features hold NaN or Inf at row\(s\) \[44\]"):
        check_finite([[0.0, 1.0], [np.nan, 0.0]], "f.npy", what="features", row_numbers=[40, 44])


def test_lengths():
    assert check_lengths({"a.npy": 10, "b.npy": 10}) == 10
    assert check_lengths({"a.npy": 10, "b.npy": 9}, tolerance=1) == 9
    with pytest.raises(InputError, match=r"video v: feature streams disagree in length \(a.npy: 10, b.npy: 7 steps\)"):
        check_lengths({"a.npy": 10, "b.npy": 7}, "video v")


def test_array_and_finite():
    check_array(np.zeros((3, 4)), "f.npy", shape=(None, 4), min_rows=1)
    with pytest.raises(InputError, match=r"f.npy: expected size 5 along axis 1"):
        check_array(np.zeros((3, 4)), "f.npy", shape=(None, 5))
    with pytest.raises(InputError, match=r"expected a 2-d array"):
        check_array(np.zeros(3), "f.npy", ndim=2)
    with pytest.raises(InputError, match=r"at least 1 row"):
        check_array(np.zeros((0, 4)), "f.npy", min_rows=1)
    with pytest.raises(InputError, match=r"f.npy: values hold NaN or Inf \(at flat index \[1\]"):
        check_finite([0.0, np.inf], "f.npy")


def test_segment_iou_hand_values_and_degenerate_cases():
    iou = segment_iou([[0, 2]], [[1, 3], [2, 4], [0, 2], [5, 6]])
    assert iou.shape == (1, 4)
    assert iou[0].tolist() == pytest.approx([1 / 3, 0, 1, 0])
    # two points at the same place: an empty union is tIoU 0, not NaN
    assert segment_iou([[1, 1]], [[1, 1]]).tolist() == [[0.0]]
    assert paired_segment_iou([[0, 1], [1, 1]], [[0.5, 1.5], [1, 1]]).tolist() == pytest.approx([1 / 3, 0])
    assert segment_iou([0, 1], [[0, 1]], eps=1e-8)[0, 0] == 1 / (1 + 1e-8)


def test_load_array_formats_and_errors(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((2, 3), np.float32))
    np.savez(tmp_path / "b.npz", feats=np.ones((2, 3)))
    torch.save(torch.ones(2, 3), tmp_path / "c.pt")
    for name in ("a.npy", "b.npz", "c.pt"):
        assert load_array(str(tmp_path / name)).shape == (2, 3)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    for mmap_mode in (None, "r"):
        with pytest.raises(InputError, match="obj.npy: holds pickled Python objects, not a numeric array") as err:
            load_array(str(tmp_path / "obj.npy"), mmap_mode=mmap_mode)
        assert "allow_pickle" not in str(err.value)
    assert load_array(str(tmp_path / "a.npy"), mmap_mode="r")[1].tolist() == [1, 1, 1]
    (tmp_path / "empty.npy").write_bytes(b"")
    with pytest.raises(InputError, match="empty.npy: unreadable feature file, empty or truncated"):
        load_array(str(tmp_path / "empty.npy"))
    with pytest.raises(InputError, match=r"b.npz: expected an array under key 'x', found keys \['feats'\]"):
        load_array(str(tmp_path / "b.npz"), key="x")
    torch.save({"a": 1}, tmp_path / "d.pt")
    with pytest.raises(InputError, match="d.pt: expected a saved tensor, found a dict"):
        load_array(str(tmp_path / "d.pt"))
    with pytest.raises(FileNotFoundError, match="missing.npy: feature file not found"):
        load_array(str(tmp_path / "missing.npy"))


def test_load_array_never_advises_unpickling(tmp_path):
    """numpy takes any file without its header for a pickle, and says so with allow_pickle advice: each
    kind of file that is not an array gets its own words, none of them a hint to unpickle."""
    import pickle
    np.save(tmp_path / "a.npy", np.ones((50, 3), np.float32))
    whole = (tmp_path / "a.npy").read_bytes()
    (tmp_path / "header.npy").write_bytes(whole[:100])
    (tmp_path / "data.npy").write_bytes(whole[:300])
    (tmp_path / "text.npy").write_text("0.1 0.2 0.3\n")
    (tmp_path / "pickle.npy").write_bytes(pickle.dumps({"feats": [1, 2]}))
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.savez(tmp_path / "obj.npz", x=np.array([{"a": 1}], dtype=object))
    cases = [("header.npy", None, "empty or truncated"), ("data.npy", None, "empty or truncated"),
             ("data.npy", "r", "empty or truncated"), ("text.npy", None, "not a .npy array"),
             ("pickle.npy", None, "a pickled Python object, not a numeric array"),
             ("obj.npy", "r", "holds pickled Python objects"), ("obj.npz", None, "holds pickled Python objects")]
    for name, mmap_mode, words in cases:
        with pytest.raises(InputError, match=f"{name}: .*{words}") as err:
            load_array(str(tmp_path / name), mmap_mode=mmap_mode)
        assert "allow_pickle" not in str(err.value) and "pickle.load" not in str(err.value)


def test_array_shape_reads_headers_only_with_load_arrays_errors(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((4, 3), np.float32))
    np.savez(tmp_path / "b.npz", features=np.ones((5, 2)), other=np.ones(1))
    np.savez_compressed(tmp_path / "c.npz", x=np.ones((6, 7)))
    torch.save(torch.ones(2, 3), tmp_path / "d.pt")
    assert array_shape(str(tmp_path / "a.npy")) == (4, 3) and array_shape(str(tmp_path / "d.pt")) == (2, 3)
    assert array_shape(str(tmp_path / "b.npz"), "features") == (5, 2) and array_shape(str(tmp_path / "c.npz")) == (6, 7)
    with pytest.raises(InputError, match=r"b.npz: expected an array under key 'x', found keys \['features', 'other'\]"):
        array_shape(str(tmp_path / "b.npz"), "x")
    np.savez(tmp_path / "o.npz", x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(InputError, match="o.npz: holds pickled Python objects"):
        array_shape(str(tmp_path / "o.npz"))
    (tmp_path / "e.npz").write_bytes((tmp_path / "b.npz").read_bytes()[:50])
    with pytest.raises(InputError, match="e.npz: unreadable feature file, empty or truncated"):
        array_shape(str(tmp_path / "e.npz"))
    with pytest.raises(FileNotFoundError, match="f.npz: feature file not found"):
        array_shape(str(tmp_path / "f.npz"))


def test_load_jsonl_names_file_and_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"qid": 1}\n\n{"qid": 2, "vid": "a"}\n')
    assert load_jsonl(str(path)) == [{"qid": 1}, {"qid": 2, "vid": "a"}]
    for text, problem in (('{"qid": 1}\n{"qid": 2, "qid": 3}\n', "line 2: key 'qid' appears twice"),
                          ('{"qid": 1}\n[1]\n', "line 2: expected a JSON object, found list"),
                          ('{"qid": 1,\n', "line 1: not valid JSON")):
        path.write_text(text)
        with pytest.raises(InputError, match=f"m.jsonl: {problem}"):
            load_jsonl(str(path))
    with pytest.raises(FileNotFoundError, match="JSON-lines file not found: .*x.jsonl"):
        load_jsonl(str(tmp_path / "x.jsonl"))


def test_load_data_pickle_reads_data_and_refuses_objects(tmp_path):
    import pickle
    array = np.arange(6.0).reshape(2, 3)
    for protocol in (2, 4, 5):  # protocol 5 rebuilds arrays through numpy's _frombuffer
        (tmp_path / "a.pkl").write_bytes(pickle.dumps(array, protocol=protocol))
        loaded = load_data_pickle(str(tmp_path / "a.pkl"))
        assert loaded.dtype == array.dtype and (loaded == array).all()
    entries = [("uid", np.float64(1.5), 2.0, ["a", "b"]), ("v", 0, 1, "c")]
    (tmp_path / "l.pkl").write_bytes(pickle.dumps(entries))
    assert load_data_pickle(str(tmp_path / "l.pkl")) == entries

    class RunsCode:
        def __reduce__(self):
            return os.remove, (str(tmp_path / "l.pkl"),)

    (tmp_path / "evil.pkl").write_bytes(pickle.dumps([RunsCode()]))
    with pytest.raises(InputError, match=r"evil.pkl: the pickle holds a \w+\.remove object; only plain data"):
        load_data_pickle(str(tmp_path / "evil.pkl"))
    assert (tmp_path / "l.pkl").exists()
    (tmp_path / "cut.pkl").write_bytes(pickle.dumps(array)[:40])
    with pytest.raises(InputError, match="cut.pkl: unreadable pickle"):
        load_data_pickle(str(tmp_path / "cut.pkl"))
    with pytest.raises(FileNotFoundError, match="gone.pkl: relevancy pickle not found"):
        load_data_pickle(str(tmp_path / "gone.pkl"), "relevancy pickle")


def test_load_json_errors(tmp_path):
    (tmp_path / "d.json").write_text('{"a": 1, "a": 2}')
    with pytest.raises(InputError, match="d.json: key 'a' appears twice"):
        load_json(str(tmp_path / "d.json"))


def test_built_aside_never_leaves_half_written(tmp_path):
    target = tmp_path / "toy"
    with pytest.raises(RuntimeError):
        with built_aside(str(target)) as partial:
            open(os.path.join(partial, "half.txt"), "w").close()
            raise RuntimeError("killed")
    assert not target.exists() and os.listdir(tmp_path) == []
    with built_aside(str(target)) as partial:
        open(os.path.join(partial, "whole.txt"), "w").close()
    assert os.listdir(target) == ["whole.txt"]
    with pytest.raises(FileExistsError):
        with built_aside(str(target)):
            pass
    with built_aside(str(target), replace=True) as partial:
        open(os.path.join(partial, "new.txt"), "w").close()
    assert os.listdir(target) == ["new.txt"] and sorted(os.listdir(tmp_path)) == ["toy"]


def test_built_aside_removes_what_a_killed_writer_left(tmp_path):
    dead = tmp_path / ".toy.partial-99999999"  # no such process
    dead.mkdir()
    (dead / "half.txt").write_text("x")
    alive = tmp_path / f".toy.partial-{os.getppid()}"  # another writer, still running
    alive.mkdir()
    with built_aside(str(tmp_path / "toy")) as partial:
        open(os.path.join(partial, "whole.txt"), "w").close()
    assert sorted(os.listdir(tmp_path)) == [alive.name, "toy"]


def test_written_aside_replaces_a_file_whole_or_not_at_all(tmp_path):
    target = tmp_path / "report.md"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with written_aside(str(target)) as partial:
            assert partial.endswith(".md") and os.path.dirname(partial) == str(tmp_path)
            open(partial, "w").write("half")
            raise KeyboardInterrupt
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["report.md"]
    with written_aside(str(target)) as partial:
        open(partial, "w").write("new")
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["report.md"]


def test_video_reader_names_the_file(tmp_path):
    from common.video import probe_video, read_frames
    av = pytest.importorskip("av")
    path = str(tmp_path / "v.mp4")
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(10):
            frame = np.full((32, 32, 3), i * 20, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    info = probe_video(path)
    assert (info.num_frames, info.fps, info.height, info.width) == (10, 30.0, 32, 32)
    assert probe_video(path, count=True).num_frames == 10
    frames = read_frames(path, [3, 0, 3])
    assert frames.shape == (3, 32, 32, 3) and abs(int(frames[0].mean()) - 60) <= 3 and (frames[0] == frames[2]).all()
    with pytest.raises(InputError, match=r"v.mp4: frame 12 requested, the video has 10 decodable frames"):
        read_frames(path, [12])
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(open(path, "rb").read()[:200])
    with pytest.raises(InputError, match="broken.mp4: "):
        probe_video(str(broken), count=True)
    with pytest.raises(FileNotFoundError, match="nothere.mp4: video not found"):
        probe_video(str(tmp_path / "nothere.mp4"))


def test_probe_videos_in_threads_raises_the_first_failure_in_list_order_with_its_place(tmp_path):
    from common.video import probe_videos
    av = pytest.importorskip("av")
    paths = []
    for i in range(6):
        paths.append(str(tmp_path / f"v{i}.mp4"))
        with av.open(paths[-1], "w") as container:
            stream = container.add_stream("libx264", rate=10)
            stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
            for _ in range(i + 1):
                container.mux(stream.encode(av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), "rgb24")))
            container.mux(stream.encode())
    assert [info.num_frames for info in probe_videos(paths, workers=3)] == [1, 2, 3, 4, 5, 6]
    (tmp_path / "v4.mp4").write_bytes(b"\x00" * 64)
    (tmp_path / "v2.mp4").unlink()
    where = [f"list.txt line {i + 1}" for i in range(6)]
    with pytest.raises(FileNotFoundError, match="list.txt line 3: .*v2.mp4: video not found"):
        probe_videos(paths, where, workers=3)
    with pytest.raises(InputError, match="list.txt line 5: .*v4.mp4: cannot open the video"):
        probe_videos(paths[3:], where[3:])


def _read_first_frame(path, queue):
    from common.video import read_frames
    queue.put(read_frames(path, [0]).shape)


def test_forked_workers_decode_after_the_parent_did(tmp_path):
    """Data-loader workers are forked after the main process decoded (validation): with PyAV >= 17's threaded pixel
    conversion they hung for good; read_frames converts on the calling thread."""
    import multiprocessing
    from common.video import read_frames
    av = pytest.importorskip("av")
    path = str(tmp_path / "v.mp4")
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(5):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")))
        container.mux(stream.encode())
    read_frames(path, [4])
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_read_first_frame, args=(path, queue))
    child.start()
    child.join(timeout=30)
    if child.is_alive():
        child.kill()
        pytest.fail("a forked process hung decoding a video after its parent had decoded one")
    assert queue.get(timeout=5) == (1, 32, 32, 3)


def test_chunked_frames_address_frames_across_chunk_files(tmp_path):
    from common.video import read_chunked_frames
    av = pytest.importorskip("av")
    for chunk, count in ((0, 10), (1, 10), (2, 4)):  # frames 0..23 in chunks of 10, the last one short
        with av.open(str(tmp_path / f"{chunk:04d}.mp4"), "w") as container:
            stream = container.add_stream("libx264", rate=30)
            stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
            for i in range(count):
                frame = np.full((16, 16, 3), (10 * chunk + i) * 10, np.uint8)
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            container.mux(stream.encode())
    path = lambda k: str(tmp_path / f"{k:04d}.mp4")  # noqa: E731
    frames = read_chunked_frames(path, [23, 8, 12, 9, 8], frames_per_chunk=10)
    assert np.abs(frames.reshape(5, -1).mean(1) - np.array([23, 8, 12, 9, 8]) * 10).max() < 4
    with pytest.raises(InputError, match=r"0002.mp4: frame 5 requested, the video has 4 decodable frames"):
        read_chunked_frames(path, [3, 25], frames_per_chunk=10)
    with pytest.raises(FileNotFoundError, match=r"0003.mp4: video not found"):
        read_chunked_frames(path, [31], frames_per_chunk=10)
