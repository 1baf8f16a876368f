"""Plots write valid PNGs atomically, accept torch and numpy, and reject bad arguments before writing."""

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

from pdd_core.apps.plots import (
    plot_error_vs_lambda,
    plot_psd_comparison,
    plot_spatiotemporal_panels,
    plot_spatiotemporal_psd,
    plot_super_resolution,
    plot_training_curve,
)
from pdd_core.errors import ArgumentError, DTypeError, ShapeError
from pdd_core.metrics import fold_spatiotemporal_psd, spatiotemporal_psd, time_averaged_spatial_psd

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def batch(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).cumsum(axis=1)


def assert_png(path, expected):
    assert path == expected
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 10_000  # axes, images and text, not an empty canvas
    with Image.open(path) as image:
        image.verify()
    assert not [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]  # no temporary left behind


@pytest.mark.parametrize("library", ["numpy", "torch"])
@pytest.mark.parametrize("space", [(24,), (12, 12)])
def test_spatiotemporal_panels(tmp_path, library, space):
    fields = batch((3, 8, 2, *space))
    convert = torch.as_tensor if library == "torch" else np.asarray
    paths = {"reference": convert(fields[0]), "surrogate": convert(fields[1]), "DDPM": convert(fields[2])}
    out = tmp_path / "panels.png"
    assert_png(plot_spatiotemporal_panels(paths, out, channel_names=["X", "Y"], frame=5, dt=0.1, title="λ = 0"), out)
    with Image.open(out) as image:
        size = image.size
    # 1D: 3 label rows x 2 channel columns of 4.0 x 2.2 in; 2D: 2 channel rows x 3 label columns of 3 x 3 in (150 dpi).
    assert size == ((1200, 990) if len(space) == 1 else (1350, 900))


@pytest.mark.parametrize("library", ["numpy", "torch"])
def test_psd_plots(tmp_path, library):
    u = batch((4, 8, 2, 16))
    convert = torch.as_tensor if library == "torch" else np.asarray
    spatial = {"reference": convert(time_averaged_spatial_psd(u)), "surrogate": convert(time_averaged_spatial_psd(1.3 * u))}
    out = tmp_path / "psd.png"
    assert_png(plot_psd_comparison(spatial, out, channel_names=["X", "Y"], wavenumbers=np.arange(9) * 2.0), out)
    folded = {"reference": convert(fold_spatiotemporal_psd(spatiotemporal_psd(u))), "DDPM": convert(fold_spatiotemporal_psd(spatiotemporal_psd(0.5 * u)))}
    out = tmp_path / "omega_k.png"
    assert_png(plot_spatiotemporal_psd(folded, out), out)


@pytest.mark.parametrize("space", [(16,), (10, 10)])
def test_super_resolution(tmp_path, space):
    reference = batch((3, 7, 1, *space), seed=1)
    out = tmp_path / "sr.png"
    assert_png(plot_super_resolution(torch.as_tensor(0.3 * reference), reference + 0.1, reference, out, frame=5), out)


def test_error_vs_lambda_and_training_curve(tmp_path):
    out = tmp_path / "fig7.png"
    lams = torch.tensor([0.2, 0.0, 0.05, 0.1])
    assert_png(plot_error_vs_lambda(lams, [0.4, 0.1, 0.2, 0.3], np.array([0.6, 0.2, 0.3, 0.5]), out, l2_std=[0.01] * 4, spectral_std=np.full(4, 0.02)), out)
    records = [{"step": i, "loss": 1.0 / (i + 1), "lr": 1e-3} for i in range(300)] + [{"step": 300, "loss": float("nan")}]
    out = tmp_path / "loss.png"
    assert_png(plot_training_curve(records, out), out)


def test_an_existing_file_is_replaced(tmp_path):
    out = tmp_path / "loss.png"
    out.write_bytes(b"old")
    assert_png(plot_training_curve([{"step": 0, "loss": -1.0}, {"step": 1, "loss": -2.0}], out), out)


def test_bad_output_paths_fail_before_writing(tmp_path):
    paths = {"reference": batch((5, 1, 8))}
    with pytest.raises(ArgumentError, match="does not exist"):
        plot_spatiotemporal_panels(paths, tmp_path / "missing" / "a.png")
    with pytest.raises(ArgumentError, match=".png"):
        plot_spatiotemporal_panels(paths, tmp_path / "a.pdf")
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(ArgumentError, match="directory"):
        plot_spatiotemporal_panels(paths, tmp_path / "folder.png")
    with pytest.raises(DTypeError):
        plot_spatiotemporal_panels(paths, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["folder.png"]


def test_a_failed_save_leaves_no_partial_file(tmp_path, monkeypatch):
    def broken_savefig(self, stream, **kwargs):
        stream.write(PNG_SIGNATURE)
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(RuntimeError, match="disk full"):
        plot_training_curve([{"step": 0, "loss": 1.0}], tmp_path / "loss.png")
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments_raise_clear_errors(tmp_path):
    out = tmp_path / "x.png"
    one_d = batch((6, 2, 8))
    with pytest.raises(ShapeError, match="channels and spatial dimension"):
        plot_spatiotemporal_panels({"a": one_d, "b": one_d[:, :1]}, out)
    with pytest.raises(ShapeError, match="2 strings"):
        plot_spatiotemporal_panels({"a": one_d}, out, channel_names=["X"])
    with pytest.raises(ArgumentError, match="frame"):
        plot_spatiotemporal_panels({"a": one_d}, out, frame=6)
    with pytest.raises(DTypeError, match="non-empty dict"):
        plot_spatiotemporal_panels({}, out)
    nan = one_d.copy()
    nan[0, 0, 0] = np.nan
    with pytest.raises(ArgumentError, match="NaN"):
        plot_spatiotemporal_panels({"a": nan}, out)
    with pytest.raises(ShapeError, match=r"\[T, C, N\]"):
        plot_spatiotemporal_panels({"a": batch((2, 6, 1, 4, 4, 4))}, out)
    with pytest.raises(ArgumentError, match=">= 0"):
        plot_psd_comparison({"a": -np.ones((1, 4))}, out)
    with pytest.raises(ShapeError, match="one value per λ"):
        plot_error_vs_lambda([0.0, 0.1], [0.1], [0.1, 0.2], out)
    with pytest.raises(ArgumentError, match="λ must be >= 0"):
        plot_error_vs_lambda([-0.1, 0.1], [0.1, 0.2], [0.1, 0.2], out)
    with pytest.raises(DTypeError, match="'step' and 'loss'"):
        plot_training_curve([{"step": 0}], out)
    with pytest.raises(ArgumentError, match="no records"):
        plot_training_curve([], out)
    with pytest.raises(ShapeError, match=r"low_res\[0\]"):
        plot_super_resolution(batch((1, 3, 1, 4, 4, 4)), batch((1, 3, 1, 4, 4, 4)), batch((1, 3, 1, 4, 4, 4)), out)
    assert list(tmp_path.iterdir()) == []
