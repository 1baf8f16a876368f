"""Dataset layer: HDF5 layout, generation (determinism, crash/resume), validation, PathDataset."""

import hashlib
import pickle
import shutil

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from pdd_core import SYSTEMS, ArgumentError, ConfigError, DataError, Grid, from_dict
from pdd_core.apps.datasets import PathDataset, configure_system, generate_dataset
from pdd_core.apps.datasets.generation import chunk_generator, draw_paths, plan_chunks
from pdd_core.data import FORMAT_VERSION, write_dataset_file
from pdd_core.data.hdf5_layout import ChannelStatistics
from pdd_core.data.hdf5_reader import open_dataset_file, read_metadata
from tests.toy_system import ToyField, ToyWalk  # importing registers the toy systems

SMALL = ToyWalk(n_points=6)


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def arrays(path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as file:
        return {name: file[name][...] for name in ("train", "valid", "test")}


def generate(path, seed=0, **kwargs):
    kwargs.setdefault("chunk_paths", 2)
    return generate_dataset(SMALL, "small", path, seed, progress=False, **kwargs)


@pytest.fixture(scope="module")
def small_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "toy.h5"
    generate(path)
    return path


# ---------------------------------------------------------------- layout


def test_layout_round_trip_of_user_arrays(tmp_path):
    rng = np.random.default_rng(1)
    grid = Grid((4, 5), length=(1.0, 2.0), channels=3, symbol="lattice")
    splits = {name: rng.standard_normal((n, 2, 3, 4, 5)) for name, n in (("train", 6), ("valid", 2), ("test", 0))}
    metadata = write_dataset_file(tmp_path / "user.h5", splits, system="my-sim", config={"nu": 0.1, "size": [4, 5]}, dt=0.25, grid=grid, seed=9)
    assert read_metadata(tmp_path / "user.h5") == metadata
    assert metadata.grid == grid and metadata.config == {"nu": 0.1, "size": [4, 5]} and metadata.seed == 9 and metadata.preset is None
    assert metadata.splits == {"train": (6, 2, 3, 4, 5), "valid": (2, 2, 3, 4, 5), "test": (0, 2, 3, 4, 5)}
    stored = arrays(tmp_path / "user.h5")
    for name, values in splits.items():
        assert stored[name].dtype == np.float32
        np.testing.assert_array_equal(stored[name], values.astype(np.float32))
    train = stored["train"].astype(np.float64)
    np.testing.assert_allclose(metadata.mean, train.mean(axis=(0, 1, 3, 4)), rtol=1e-13)
    np.testing.assert_allclose(metadata.std, train.std(axis=(0, 1, 3, 4)), rtol=1e-13)


def test_channel_statistics_merge_equals_whole():
    rng = np.random.default_rng(2)
    data = rng.normal(5.0, 2.0, size=(9, 3, 2, 7))
    merged = ChannelStatistics(0, (), ())
    for start in range(0, 9, 4):
        merged = merged.merge(ChannelStatistics.of(data[start : start + 4]))
    whole = ChannelStatistics.of(data)
    assert merged.count == whole.count == 9 * 3 * 7
    np.testing.assert_allclose(merged.mean, data.mean(axis=(0, 1, 3)), rtol=1e-14)
    np.testing.assert_allclose(merged.std, data.std(axis=(0, 1, 3)), rtol=1e-13)


def test_generated_file_layout_and_metadata(small_file):
    metadata = read_metadata(small_file)
    assert metadata.format_version == FORMAT_VERSION
    assert metadata.system == "toy-test" and metadata.preset == "small" and metadata.seed == 0 and metadata.chunk_paths == 2
    assert metadata.splits == {"train": (7, 5, 2, 6), "valid": (3, 5, 2, 6), "test": (2, 5, 2, 6)}
    assert metadata.dt == 0.1 and metadata.grid == SMALL.grid
    # The stored config structures back into the very system that generated the file.
    assert from_dict(SYSTEMS.get(metadata.system), metadata.config) == SMALL
    with h5py.File(small_file, "r") as file:
        for name in ("train", "valid", "test"):
            dataset = file[name]
            assert dataset.dtype == np.float32
            assert dataset.chunks == (1, 5, 2, 6)
            assert dataset.compression == "gzip" and dataset.shuffle
        train = file["train"][...].astype(np.float64)
    np.testing.assert_allclose(metadata.mean, train.mean(axis=(0, 1, 3)), rtol=1e-12)
    np.testing.assert_allclose(metadata.std, train.std(axis=(0, 1, 3)), rtol=1e-12)
    # The toy's channel offsets (0, 3) show up in the statistics.
    assert abs(metadata.mean[1] - metadata.mean[0] - 3.0) < 1.0


def test_configure_system_merges_defaults_preset_and_settings():
    assert configure_system(ToyWalk, "small") == ToyWalk(n_points=6)
    assert configure_system(ToyWalk, "small", {"noise": 0.5, "offset": (1.0, 2.0)}) == ToyWalk(n_points=6, noise=0.5, offset=(1.0, 2.0))
    with pytest.raises(ConfigError, match="'nosie'.*not a parameter of ToyWalk.*noise"):
        configure_system(ToyWalk, "small", {"nosie": 1.0})
    with pytest.raises(ConfigError, match="no such dataset preset"):
        configure_system(ToyWalk, "huge")
    with pytest.raises(ConfigError, match="noise"):
        configure_system(ToyWalk, "small", {"noise": -1.0})


# ---------------------------------------------------------------- generation


def test_same_seed_same_bytes_different_seed_different_data(tmp_path, small_file):
    generate(tmp_path / "again.h5", seed=np.int64(0))
    assert digest(tmp_path / "again.h5") == digest(small_file)
    generate(tmp_path / "other.h5", seed=1)
    assert not np.array_equal(arrays(tmp_path / "other.h5")["train"], arrays(small_file)["train"])


def test_chunks_follow_the_documented_seed_key(small_file):
    """Chunk j of split s is drawn from SeedSequence(seed, spawn_key=(s, j)) alone."""
    stored = arrays(small_file)
    for chunk in plan_chunks({"train": 7, "valid": 3, "test": 2}, 2):
        expected = draw_paths(SMALL, chunk.n_paths, 5, chunk_generator(0, chunk.split, chunk.index)).astype(np.float32)
        np.testing.assert_array_equal(stored[chunk.split][2 * chunk.index : 2 * chunk.index + chunk.n_paths], expected)
    # The splits are independent streams, not repeats of each other.
    assert not np.array_equal(stored["train"][:2], stored["valid"][:2])


def test_burn_in_discards_frames():
    """burn_in = 0.5 with dt = 0.1 drops 5 frames: the first saved frame is the 6th step."""
    with_burn_in = draw_paths(SMALL, 3, 2, np.random.default_rng(4))
    rng = np.random.default_rng(4)
    state = SMALL.initial_state(3, rng)
    frames, _ = SMALL.advance(state, 7, rng)
    np.testing.assert_array_equal(with_burn_in, frames[:, 5:])


def test_static_system_stores_one_frame_per_sample(tmp_path):
    report = generate_dataset(ToyField(), "small", tmp_path / "static.h5", 0, progress=False, chunk_paths=6)
    assert report.metadata.splits == {"train": (10, 1, 1, 4, 4), "valid": (3, 1, 1, 4, 4), "test": (3, 1, 1, 4, 4)}
    # 6 samples per chunk at 4 per chain: 2 chains, frame-major (chain 0, chain 1, chain 0, ...).
    rng = chunk_generator(0, "train", 0)
    ToyField().initial_state(2, rng)
    rng.standard_normal((2, 3, 1, 4, 4))  # burn-in: 3 sweeps / dt 1
    frames = rng.standard_normal((2, 4, 1, 4, 4))
    expected = frames.swapaxes(0, 1).reshape(8, 1, 1, 4, 4)[:6].astype(np.float32)
    np.testing.assert_array_equal(arrays(tmp_path / "static.h5")["train"][:6], expected)


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("stop_after", [1, 3, 7])
def test_interrupted_generation_resumes_to_identical_bytes(tmp_path, small_file, stop_after):
    """An exception after k chunks (k = 7: all chunks, before assembly) then a re-run."""
    seen = []

    def crash(split, index):
        seen.append((split, index))
        if len(seen) == stop_after:
            raise Interrupt

    out = tmp_path / "toy.h5"
    with pytest.raises(Interrupt):
        generate(out, on_chunk=crash)
    assert not out.exists() and (tmp_path / "toy.h5.partial").is_dir()
    (tmp_path / "toy.h5.partial" / "train-000005.h5.tmp").write_bytes(b"half a chunk")
    with pytest.raises(DataError, match="interrupted.*re-run the same"):
        read_metadata(out)
    with pytest.raises(DataError, match="is a directory"):
        read_metadata(tmp_path / "toy.h5.partial")
    report = generate(out)
    assert report.chunks_resumed == stop_after and report.chunks_total == 7
    assert digest(out) == digest(small_file)
    assert not (tmp_path / "toy.h5.partial").exists()


def test_resume_with_a_different_request_is_refused(tmp_path):
    out = tmp_path / "toy.h5"

    def crash(split, index):
        raise Interrupt

    with pytest.raises(Interrupt):
        generate(out, on_chunk=crash)
    with pytest.raises(DataError, match=r"different request.*seed.*--overwrite"):
        generate(out, seed=5)
    report = generate(out, seed=5, overwrite=True)
    assert report.chunks_resumed == 0 and read_metadata(out).seed == 5


def test_existing_file_is_not_overwritten_without_permission(tmp_path):
    out = tmp_path / "toy.h5"
    generate(out)
    before = digest(out)
    with pytest.raises(DataError, match="already exists.*--overwrite"):
        generate(out, seed=1)
    assert digest(out) == before
    generate(out, seed=1, overwrite=True)
    assert digest(out) != before


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"seed": -1}, "seed=-1"),
        ({"n_train": 0}, "n_train=0"),
        ({"n_valid": -2}, "n_valid=-2"),
        ({"chunk_paths": 0}, "chunk_paths=0"),
        ({"preset": "tiny"}, "no such dataset preset"),
    ],
)
def test_bad_generation_arguments(tmp_path, kwargs, message):
    arguments = {"seed": 0, "preset": "small", **kwargs}
    with pytest.raises((ArgumentError, ConfigError), match=message):
        generate_dataset(SMALL, arguments.pop("preset"), tmp_path / "x.h5", arguments.pop("seed"), progress=False, **arguments)
    assert not (tmp_path / "x.h5").exists()


def test_blow_up_is_reported_not_stored(tmp_path):
    with pytest.raises(ArgumentError, match="non-finite.*reduce the system's time step"):
        generate_dataset(ToyWalk(damping=1e10), "small", tmp_path / "x.h5", 0, progress=False)
    assert not (tmp_path / "x.h5").exists() and not (tmp_path / "x.h5.partial").exists()
    generate_dataset(ToyWalk(damping=0.5), "small", tmp_path / "x.h5", 0, progress=False)  # the corrected command just runs


def test_empty_splits_are_allowed(tmp_path):
    report = generate(tmp_path / "x.h5", n_train=3, n_valid=0, n_test=0)
    assert report.metadata.splits["valid"] == (0, 5, 2, 6) and len(PathDataset(tmp_path / "x.h5", "test")) == 0


# ---------------------------------------------------------------- validation


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file.*pdd data generate"):
        read_metadata(tmp_path / "nope.h5")


def test_foreign_file(tmp_path):
    (tmp_path / "notes.h5").write_text("these are not the fields you are looking for\n")
    with pytest.raises(DataError, match="not an HDF5 file"):
        read_metadata(tmp_path / "notes.h5")


def test_truncated_file(tmp_path, small_file):
    data = small_file.read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) - 1000])
    with pytest.raises(DataError, match="truncated.*generate it again"):
        read_metadata(tmp_path / "cut.h5")
    (tmp_path / "stub.h5").write_bytes(data[:100])
    with pytest.raises(DataError, match="truncated|not an HDF5"):
        read_metadata(tmp_path / "stub.h5")


def copy_and_edit(source, target, edit):
    shutil.copy(source, target)
    with h5py.File(target, "r+") as file:
        edit(file)
    return target


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda f: f.attrs.__setitem__("format_version", 2), "format_version=2.*reads dataset format version 1.*upgrade pdd"),
        (lambda f: f.attrs.__setitem__("format_version", 0), "format_version=0.*regenerate"),
        (lambda f: f.attrs.__delitem__("mean"), r"missing root attribute\(s\) \['mean'\].*incomplete"),
        (lambda f: f.__delitem__("valid"), r"missing dataset\(s\) \['valid'\]"),
        (lambda f: f.attrs.__setitem__("grid_shape", np.array([7])), r"train.shape=\(7, 5, 2, 6\).*space=\(7,\)"),
        (lambda f: f.attrs.__setitem__("grid_channels", 3), r"C=3"),
        (lambda f: f.attrs.__setitem__("std", np.array([1.0])), "expected 2 finite float64 values"),
        (lambda f: f.attrs.__setitem__("config", "{not json"), "not valid JSON"),
        (lambda f: f.attrs.__setitem__("dt", -1.0), "dt=-1.0"),
    ],
)
def test_inconsistent_files_are_rejected(tmp_path, small_file, edit, message):
    path = copy_and_edit(small_file, tmp_path / "bad.h5", edit)
    with pytest.raises(DataError, match=message):
        read_metadata(path)


def test_open_dataset_file_returns_a_readable_handle(small_file):
    with open_dataset_file(small_file) as file:
        assert file["train"].shape == (7, 5, 2, 6) and file.mode == "r"


# ---------------------------------------------------------------- PathDataset


def test_path_dataset_standardises_with_stored_statistics(small_file):
    dataset = PathDataset(small_file, "valid")
    raw = arrays(small_file)["valid"].astype(np.float64)
    mean, std = np.array(dataset.metadata.mean), np.array(dataset.metadata.std)
    assert len(dataset) == 3 and dataset.grid == SMALL.grid and dataset.dt == 0.1
    for index in range(3):
        item = dataset[index]
        assert item.dtype == torch.float32 and item.shape == (5, 2, 6)
        expected = (raw[index] - mean[:, None]) / std[:, None]
        np.testing.assert_allclose(item.numpy(), expected, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(dataset.destandardize(item), torch.from_numpy(raw[index]).float(), rtol=1e-5, atol=1e-5)
    train = torch.stack([item for item in PathDataset(small_file, "train")]).double()
    torch.testing.assert_close(train.mean(dim=(0, 1, 3)), torch.zeros(2, dtype=torch.float64), atol=1e-6, rtol=0)
    torch.testing.assert_close(train.std(dim=(0, 1, 3), unbiased=False), torch.ones(2, dtype=torch.float64), atol=1e-6, rtol=0)
    np.testing.assert_array_equal(PathDataset(small_file, "test", standardize=False)[1].numpy(), arrays(small_file)["test"][1])


def test_path_dataset_windows_are_seeded_per_epoch_and_index(small_file):
    dataset = PathDataset(small_file, "train", window=2, standardize=False, rng_seed=3)
    raw = arrays(small_file)["train"]
    starts = [dataset.window_start(i) for i in range(7)]
    assert all(0 <= s <= 3 for s in starts)
    for index, start in enumerate(starts):
        np.testing.assert_array_equal(dataset[index].numpy(), raw[index, start : start + 2])
    assert starts == [PathDataset(small_file, "train", window=2, rng_seed=3).window_start(i) for i in range(7)]
    epochs = []
    for epoch in range(4):
        dataset.set_epoch(epoch)
        epochs.append([dataset.window_start(i) for i in range(7)])
    assert len({tuple(e) for e in epochs}) > 1
    with pytest.raises(ArgumentError, match="window=6"):
        PathDataset(small_file, "train", window=6)
    with pytest.raises(ArgumentError, match="index=7"):
        dataset[7]


def test_path_dataset_with_two_workers_matches_single_process(small_file):
    dataset = PathDataset(small_file, "train", window=3, rng_seed=1)
    dataset[0]  # open a handle in the parent before forking: workers must not use it
    expected = torch.stack([dataset[i] for i in range(len(dataset))])
    loader = DataLoader(dataset, batch_size=2, num_workers=2, shuffle=False)
    got = torch.cat(list(loader))
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    clone = pickle.loads(pickle.dumps(dataset))
    assert clone._file is None
    torch.testing.assert_close(clone[4], expected[4], rtol=0, atol=0)
