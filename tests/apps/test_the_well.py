"""The Well's HDF5 layout: pdd dataset -> export -> WellDataset (when installed) and -> import -> the same arrays; what pdd refuses."""

import json
import re
import warnings

import h5py
import numpy as np
import pytest

from pdd_core import Grid
from pdd_core.apps.cli.main import main
from pdd_core.apps.datasets.well_layout import component_names
from pdd_core.data import read_metadata, write_dataset_file


def pdd_dataset(path, system, shape, channels, config, n=(3, 2, 0), frames=6, dt=0.05, seed=0, **extra):
    """A small dataset file with fields far from zero mean (so that mean/std/rms all matter)."""
    rng = np.random.default_rng(seed)
    grid = Grid(shape, length=2 * np.pi, channels=channels)
    splits = {name: 2.0 + rng.standard_normal((count, frames, channels, *shape)) for name, count in zip(("train", "valid", "test"), n)}
    write_dataset_file(path, splits, system=system, config=config, dt=dt, grid=grid, **extra)
    return splits


def read_stats(path):
    """stats.yaml as {statistic: {field: value}}, parsed by hand (PyYAML is only in the 'well' extra)."""
    stats, key = {}, None
    for line in path.read_text().splitlines():
        if not line.startswith(" "):
            key = line.rstrip(":")
            stats[key] = {}
        else:
            name, value = line.strip().rsplit(": ", 1)
            stats[key][json.loads(name)] = float(value)
    return stats


def export(source, out, *extra):
    return main(["data", "export", str(source), "--format", "the-well", "--out", str(out), "--no-progress", *extra])


def import_(*paths, out, extra=()):
    return main(["data", "import", "the-well", *map(str, paths), "--out", str(out), "--no-progress", *extra])


@pytest.mark.parametrize(
    "system, shape, channels, names, config",
    [
        ("lorenz96", (16,), 2, ["X", "Y"], {"K": 4, "J": 4, "F": 10.0, "integrator": "euler"}),
        ("kolmogorov", (8, 8), 1, ["vorticity"], {"Re": 100.0, "n_out": 8}),
    ],
)
def test_export_then_import_gives_the_same_dataset(tmp_path, capsys, system, shape, channels, names, config):
    splits = pdd_dataset(tmp_path / "src.h5", system, shape, channels, config)
    assert export(tmp_path / "src.h5", tmp_path / "well") == 0
    train_file = tmp_path / "well" / "data" / "train" / "src.hdf5"
    assert sorted(p.name for p in (tmp_path / "well" / "data").iterdir()) == ["train", "valid"]  # the empty test split is not written
    with h5py.File(train_file) as file:
        assert list(file["t0_fields"].attrs["field_names"]) == names and file.attrs["n_spatial_dims"] == len(shape)
        for channel, name in enumerate(names):  # channel c of pdd is field c of The Well, [N, T, *space]
            np.testing.assert_array_equal(file["t0_fields"][name][:], splits["train"][:, :, channel].astype(np.float32))
        assert {file["boundary_conditions"][b].attrs["bc_type"] for b in file["boundary_conditions"]} == {"PERIODIC"}
        np.testing.assert_allclose(file["dimensions"]["x"][:], np.arange(shape[0]) * 2 * np.pi / shape[0], rtol=1e-6)
        np.testing.assert_allclose(file["dimensions"]["time"][:], np.arange(6) * 0.05, rtol=1e-6)
    # stats.yaml: the_well's compute_statistics (population moments over all but the field's tensor axes).
    stats = read_stats(tmp_path / "well" / "stats.yaml")
    for channel, name in enumerate(names):
        values = splits["train"][:, :, channel].astype(np.float32).astype(np.float64)
        delta = values[:, 1:] - values[:, :-1]
        expected = {"mean": values.mean(), "std": values.std(), "rms": np.sqrt((values**2).mean()), "mean_delta": delta.mean(), "std_delta": delta.std(), "rms_delta": np.sqrt((delta**2).mean())}
        for key, value in expected.items():
            assert stats[key][name] == pytest.approx(value, rel=1e-12), key

    assert import_(tmp_path / "well", out=tmp_path / "back.h5") == 0
    back, original = read_metadata(tmp_path / "back.h5"), read_metadata(tmp_path / "src.h5")
    assert (back.system, back.config, back.dt, back.grid) == (original.system, original.config, original.dt, original.grid)
    assert back.splits == original.splits
    # Path-by-path merging (Chan et al.) sums in another order than one pass over the split: last-digit differences.
    assert back.mean == pytest.approx(original.mean, rel=1e-13) and back.std == pytest.approx(original.std, rel=1e-13)
    with h5py.File(tmp_path / "back.h5") as a, h5py.File(tmp_path / "src.h5") as b:
        for split in ("train", "valid", "test"):
            np.testing.assert_array_equal(a[split][:], b[split][:])
    assert main(["data", "info", str(tmp_path / "back.h5")]) == 0  # checksums verify
    assert "checksums   train ok" in capsys.readouterr().out


def test_well_dataset_reads_the_export(tmp_path):
    """the_well.data.WellDataset reads the exported directory unmodified, z-scored with our stats.yaml."""
    pytest.importorskip("the_well")
    from the_well.data import WellDataset
    from the_well.data.normalization import ZScoreNormalization

    splits = pdd_dataset(tmp_path / "kf.h5", "kolmogorov", (8, 8), 1, {"Re": 100.0})
    assert export(tmp_path / "kf.h5", tmp_path / "well") == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = WellDataset(path=str(tmp_path / "well"), well_split_name="train", full_trajectory_mode=True, n_steps_input=1, max_rollout_steps=100)
        normalised = WellDataset(path=str(tmp_path / "well"), well_split_name="valid", use_normalization=True, normalization_type=ZScoreNormalization)
    assert full.metadata.field_names[0] == ["vorticity"] and full.metadata.spatial_resolution == (8, 8) and full.metadata.boundary_condition_types == ["PERIODIC"]
    sample = full[2]
    path = np.concatenate([sample["input_fields"].numpy(), sample["output_fields"].numpy()])  # [T, x, y, C]
    np.testing.assert_array_equal(np.moveaxis(path, -1, 1), splits["train"][2].astype(np.float32))
    values = splits["train"].astype(np.float32).astype(np.float64)
    first = normalised[0]["input_fields"].numpy()[0, ..., 0]
    np.testing.assert_allclose(first, (splits["valid"][0, 0, 0].astype(np.float32) - values.mean()) / values.std(), atol=1e-6)  # the_well normalises in float32


def test_generated_output_is_exported_in_physical_units(tmp_path):
    """An inference output stores standardised values; The Well's files hold physical ones."""
    rng = np.random.default_rng(1)
    paths = rng.standard_normal((2, 4, 2, 16))
    grid = Grid((16,), channels=2)
    empty = np.zeros((0, 4, 2, 16))
    attributes = {"pdd_command": "generate", "values": "standardized", "source_mean": np.array([3.0, -1.0]), "source_std": np.array([2.0, 0.5])}
    write_dataset_file(tmp_path / "gen.h5", {"train": paths, "valid": empty, "test": empty}, system="lorenz96", config={}, dt=0.1, grid=grid, extra_attributes=attributes)
    assert export(tmp_path / "gen.h5", tmp_path / "well", "--name", "generated") == 0
    with h5py.File(tmp_path / "well" / "data" / "train" / "generated.hdf5") as file:
        np.testing.assert_allclose(file["t0_fields"]["Y"][:], paths[:, :, 1].astype(np.float32) * 0.5 - 1.0, rtol=1e-6)
        assert file.attrs["pdd_command"] == "generate"


# Synthetic Well files, written the way the_well's docs/data_format.md describes them.


def well_file(path, *, bcs=("PERIODIC", "PERIODIC"), x=None, time=None, grid_type="cartesian", n=2, frames=5, shape=(8, 6), seed=0):
    rng = np.random.default_rng(seed)
    fields = {"density": rng.standard_normal((n, frames, *shape)).astype(np.float32), "velocity": rng.standard_normal((n, frames, *shape, 2)).astype(np.float32)}
    profile = rng.standard_normal((n, frames, shape[0])).astype(np.float32)  # varies along x only
    with h5py.File(path, "w") as file:
        file.attrs.update(dataset_name="synthetic", grid_type=grid_type, n_spatial_dims=2, n_trajectories=n, simulation_parameters=["Re"], Re=50.0)
        dims = file.create_group("dimensions")
        dims.attrs["spatial_dims"] = ["x", "y"]
        coordinates = {"time": np.arange(frames) * 0.25 if time is None else time, "x": np.arange(shape[0]) / shape[0] if x is None else x, "y": np.arange(shape[1]) * 2.0}
        for key, value in coordinates.items():
            dims.create_dataset(key, data=np.asarray(value, dtype=np.float32)).attrs.update(sample_varying=False, time_varying=key == "time")
        group = file.create_group("boundary_conditions")
        for dim, kind in zip("xy", bcs):
            if kind is None:
                continue
            bc = group.create_group(f"{dim}_{kind.lower()}")
            bc.attrs.update(associated_dims=[dim], associated_fields=[], bc_type=kind, sample_varying=False, time_varying=False)
            mask = np.zeros(shape["xy".index(dim)], dtype=bool)
            mask[[0, -1]] = True
            bc.create_dataset("mask", data=mask)
        scalars = file.create_group("scalars")
        scalars.attrs["field_names"] = ["Re"]
        scalars.create_dataset("Re", data=np.array(50.0)).attrs.update(sample_varying=False, time_varying=False)
        t0, t1 = file.create_group("t0_fields"), file.create_group("t1_fields")
        file.create_group("t2_fields").attrs["field_names"] = []
        t0.attrs["field_names"] = ["density", "profile", "mask"]
        t0.create_dataset("density", data=fields["density"]).attrs.update(dim_varying=[True, True], sample_varying=True, time_varying=True)
        t0.create_dataset("profile", data=profile).attrs.update(dim_varying=[True, False], sample_varying=True, time_varying=True)
        t0.create_dataset("mask", data=np.ones(shape, dtype=np.float32)).attrs.update(dim_varying=[True, True], sample_varying=False, time_varying=False)
        t1.attrs["field_names"] = ["velocity"]
        t1.create_dataset("velocity", data=fields["velocity"]).attrs.update(dim_varying=[True, True], sample_varying=True, time_varying=True)
    return fields, profile


def test_import_maps_fields_to_channels(tmp_path, capsys):
    """t0 fields one channel each, t1 fields d (name_x, name_y), a field constant along y broadcast, constant fields left out."""
    fields, profile = well_file(tmp_path / "a.hdf5")
    assert import_(tmp_path / "a.hdf5", out=tmp_path / "out.h5") == 0
    captured = capsys.readouterr()
    assert "density, profile, velocity_x, velocity_y" in captured.out and "t0_fields/mask" in captured.err
    metadata = read_metadata(tmp_path / "out.h5")
    assert metadata.grid.shape == (8, 6) and metadata.grid.lengths == pytest.approx((1.0, 12.0)) and metadata.dt == pytest.approx(0.25)
    assert metadata.config == {"Re": 50.0} and metadata.system == "synthetic" and metadata.splits["test"][0] == 0
    with h5py.File(tmp_path / "out.h5") as file:
        train = file["train"][:]
    np.testing.assert_array_equal(train[:, :, 0], fields["density"])
    np.testing.assert_array_equal(train[:, :, 1], np.broadcast_to(profile[..., None], train[:, :, 1].shape))
    np.testing.assert_array_equal(train[:, :, 2], fields["velocity"][..., 0])
    np.testing.assert_array_equal(train[:, :, 3], fields["velocity"][..., 1])
    assert import_(tmp_path / "a.hdf5", out=tmp_path / "v.h5", extra=("--fields", "velocity")) == 0
    assert read_metadata(tmp_path / "v.h5").grid.channels == 2


def test_files_go_to_the_split_asked_for(tmp_path):
    well_file(tmp_path / "train.hdf5", seed=0)
    well_file(tmp_path / "test.hdf5", seed=1, n=3)
    assert import_(tmp_path / "train.hdf5", out=tmp_path / "train.h5") == 0
    assert import_(tmp_path / "test.hdf5", out=tmp_path / "bad.h5", extra=("--split", "test")) == 2  # no train split


@pytest.mark.parametrize(
    "options, message",
    [
        ({"bcs": ("PERIODIC", "WALL")}, "axis 'y' has boundary condition WALL, not PERIODIC"),
        ({"bcs": ("OPEN", "PERIODIC")}, "axis 'x' has boundary condition OPEN"),
        ({"bcs": ("PERIODIC", None)}, "axis 'y' has boundary condition none"),
        ({"x": np.array([0, 0.1, 0.2, 0.35, 0.4, 0.5, 0.6, 0.7])}, "axis 'x' is not uniform"),
        ({"time": np.array([0.0, 0.25, 0.5, 1.0, 1.25])}, "time is not uniform"),
        ({"grid_type": "spherical"}, "grid_type 'spherical'"),
    ],
)
def test_what_pdd_cannot_model_is_refused_in_one_line(tmp_path, capsys, options, message):
    well_file(tmp_path / "a.hdf5", **options)
    assert import_(tmp_path / "a.hdf5", out=tmp_path / "out.h5") == 2
    err = capsys.readouterr().err
    assert err.startswith("pdd data: error: PATH=") and err.count("\n") == 1 and "Traceback" not in err
    assert message in err, err
    assert not (tmp_path / "out.h5").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["data", "import", "netcdf", "x.hdf5", "--out", "o.h5"], "FORMAT='netcdf': unknown layout"),
        (["data", "import", "the-well", "missing.hdf5", "--out", "o.h5"], "PATH='missing.hdf5': does not exist"),
        (["data", "import", "the-well", "a.hdf5", "--out", "o.h5", "--fields", "pressure"], "--fields='pressure'.*choose from \\['density', 'profile', 'velocity'\\]"),
        (["data", "export", "missing.h5", "--format", "the-well", "--out", "w"], "missing.h5"),
        (["data", "export", "src.h5", "--format", "zarr", "--out", "w"], "--format='zarr': unknown layout"),
    ],
)
def test_bad_arguments_exit_2(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    well_file(tmp_path / "a.hdf5")
    pdd_dataset(tmp_path / "src.h5", "lorenz96", (16,), 2, {})
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(message, err), err


def test_outputs_are_not_replaced_without_overwrite(tmp_path, capsys):
    pdd_dataset(tmp_path / "src.h5", "lorenz96", (16,), 2, {})
    assert export(tmp_path / "src.h5", tmp_path / "well") == 0
    assert export(tmp_path / "src.h5", tmp_path / "well") == 2
    assert "already holds" in capsys.readouterr().err
    assert export(tmp_path / "src.h5", tmp_path / "well", "--overwrite") == 0
    assert import_(tmp_path / "well", out=tmp_path / "src.h5") == 2
    assert "already exists" in capsys.readouterr().err


def test_component_names_follow_the_wells_flattening():
    """the_well names tensor components by itertools.product(spatial_dims, repeat=order)."""
    assert component_names("rho", 0, "xy") == ["rho"]
    assert component_names("u", 1, "xyz") == ["u_x", "u_y", "u_z"]
    assert component_names("T", 2, "xy") == ["T_xx", "T_xy", "T_yx", "T_yy"]
