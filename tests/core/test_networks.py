"""Neural drifts (PDD B.2): U-Net and FNO in 1D/2D, FiLM on λ, periodicity, heads and errors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from pdd_core.drifts.fno import FNO, SpectralConv
from pdd_core.drifts.presets import DRIFT_PRESETS, drift_preset
from pdd_core.drifts.unet import PeriodicUpsample, UNet
from pdd_core.drifts.windows import drift_on_path
from pdd_core.errors import ArgumentError, ConfigError, DTypeError, ShapeError
from pdd_core.protocols import Drift

# Spatial sizes compatible with the tiny networks below: U-Net with 2 levels needs multiples of 4;
# the FNO with 3 modes needs N >= 4 in 1D and (N_1 >= 5, N_2 >= 4) in 2D (odd sizes on purpose).
SPACE = {("unet", 1): (16,), ("unet", 2): (8, 12), ("fno", 1): (11,), ("fno", 2): (9, 10)}
CASES = [("unet", 1), ("unet", 2), ("fno", 1), ("fno", 2)]


def build(architecture: str, ndim: int, channels: int = 2, window: int = 3, noise_head: bool = False, dtype: torch.dtype = torch.float32):
    torch.manual_seed(0)
    if architecture == "unet":
        net = UNet(channels, window, ndim, base=4, widths=(4, 8), attention_heads=2, norm_groups=2, embedding_dim=8, noise_head=noise_head)
    else:
        net = FNO(channels, window, ndim, width=6, layers=2, modes=3, projection_width=8, embedding_dim=8, noise_head=noise_head)
    return net.to(dtype)


def perturb(net: torch.nn.Module, seed: int = 1, scale: float = 0.1) -> torch.nn.Module:
    """Move every parameter off its (partly zero) initialisation so all paths are active."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.add_(scale * torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype))
    return net


def history_for(architecture: str, ndim: int, batch: int = 3, dtype: torch.dtype = torch.float32, seed: int = 2) -> torch.Tensor:
    """A random history [batch, W=3, C=2, *space] matching :func:`build`'s defaults."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, 2, *SPACE[architecture, ndim], generator=generator, dtype=dtype)


def lambdas(batch: int, seed: int = 3) -> torch.Tensor:
    return torch.rand(batch, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize(("architecture", "ndim"), CASES)
@pytest.mark.parametrize(("net_dtype", "history_dtype"), [(torch.float32, torch.float32), (torch.float64, torch.float64), (torch.float32, torch.float64)])
def test_shapes_dtypes_and_zero_start(architecture, ndim, net_dtype, history_dtype):
    net = build(architecture, ndim, dtype=net_dtype)
    history = history_for(architecture, ndim, dtype=history_dtype)
    drift = net(history, lambdas(3))
    assert isinstance(net, Drift) and net.window == 3
    assert drift.shape == (3, 2, *SPACE[architecture, ndim]) and drift.dtype == history_dtype
    assert torch.equal(drift, torch.zeros_like(drift))  # zero-initialised output layer: an untrained drift is exactly 0
    perturbed = perturb(net)(history, 0.5)  # a float λ is broadcast to every sample
    assert perturbed.dtype == history_dtype and bool(torch.isfinite(perturbed).all()) and perturbed.abs().max() > 1e-3


@pytest.mark.parametrize(("architecture", "ndim"), CASES)
def test_noise_head_shares_the_trunk(architecture, ndim):
    net = perturb(build(architecture, ndim, noise_head=True, dtype=torch.float64))
    history, lam = history_for(architecture, ndim, dtype=torch.float64), lambdas(3)
    drift, noise = net.forward_with_noise(history, lam)
    assert drift.shape == noise.shape == (3, 2, *SPACE[architecture, ndim])
    assert torch.equal(drift, net(history, lam))
    assert not torch.allclose(drift, noise)  # separate heads
    with pytest.raises(ArgumentError, match="noise_head=True"):
        build(architecture, ndim).forward_with_noise(history.float(), lam)


@pytest.mark.parametrize(("architecture", "ndim"), CASES)
def test_film_conditions_on_lambda(architecture, ndim):
    net = build(architecture, ndim, dtype=torch.float64)
    history = history_for(architecture, ndim, batch=1, dtype=torch.float64).expand(4, -1, -1, *SPACE[architecture, ndim])
    lam = torch.tensor([0.0, 1e-3, 0.3, 1.0], dtype=torch.float64)
    perturb(net, seed=5)
    out = net(history, lam)
    for i in range(1, 4):
        assert (out[i] - out[0]).abs().max() > 1e-6, f"λ={lam[i].item()} gives the same output as λ=0"
    # λ enters only through FiLM: with every FiLM projection reset to zero (identity), λ no longer matters.
    with torch.no_grad():
        for name, parameter in net.named_parameters():
            if ".film." in name:
                parameter.zero_()
    out = net(history, lam)
    assert torch.allclose(out, out[:1].expand_as(out), atol=1e-12)


@pytest.mark.parametrize(("architecture", "ndim"), CASES)
def test_periodic_translation_equivariance(architecture, ndim):
    net = perturb(build(architecture, ndim, dtype=torch.float64))
    history, lam = history_for(architecture, ndim, dtype=torch.float64), lambdas(3)
    out = net(history, lam)
    # U-Net with 2 stride-2 levels: shifts by multiples of 4; FNO: every shift.
    shifts = [(4,), (8,), (-4,)] if architecture == "unet" else [(1,), (5,), (-3,)]
    if ndim == 2:
        shifts = [(4, 8), (-4, 4)] if architecture == "unet" else [(1, 0), (2, 3), (-4, 7)]
    axes = tuple(range(-ndim, 0))
    for shift in shifts:
        rolled = net(torch.roll(history, shift, axes), lam)
        torch.testing.assert_close(rolled, torch.roll(out, shift, axes), rtol=0, atol=1e-11)
    if architecture == "unet":  # the stride-2 convolutions alias an odd shift: the test above is not vacuous
        odd = (1,) * ndim
        assert (net(torch.roll(history, odd, axes), lam) - torch.roll(out, odd, axes)).abs().max() > 1e-6


@pytest.mark.parametrize(("architecture", "ndim"), CASES)
def test_samples_are_independent(architecture, ndim):
    net = perturb(build(architecture, ndim, dtype=torch.float64))
    history, lam = history_for(architecture, ndim, batch=4, dtype=torch.float64), lambdas(4)
    out = net(history, lam)
    changed_history, changed_lam = history.clone(), lam.clone()
    changed_history[2] = 10 * torch.randn_like(history[2])
    changed_lam[2] = 0.9
    changed = net(changed_history, changed_lam)
    keep = [0, 1, 3]
    assert torch.equal(changed[keep], out[keep])  # GroupNorm/attention act per sample: bitwise identical
    assert (changed[2] - out[2]).abs().max() > 1e-6
    single = net(history[1:2], lam[1:2])
    torch.testing.assert_close(single, out[1:2], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("architecture", "ndim"), CASES)
def test_gradients_reach_every_parameter(architecture, ndim):
    net = perturb(build(architecture, ndim, noise_head=True, dtype=torch.float64))
    history = history_for(architecture, ndim, dtype=torch.float64).requires_grad_()
    drift, noise = net.forward_with_noise(history, lambdas(3))
    (drift.square().sum() + noise.square().sum()).backward()
    dead = [name for name, parameter in net.named_parameters() if parameter.grad is None or parameter.grad.abs().max() == 0]
    assert not dead, f"no gradient reaches {dead}"
    assert history.grad.abs().max() > 0


@pytest.mark.parametrize(("architecture", "ndim"), CASES)
def test_zero_initialisation_does_not_stall_training(architecture, ndim):
    """From the exact zero start, the head moves first, then the trunk, then the FiLM path to λ."""
    net = build(architecture, ndim, dtype=torch.float64)
    history, lam = history_for(architecture, ndim, dtype=torch.float64), lambdas(3)
    target = torch.randn(3, 2, *SPACE[architecture, ndim], generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05)
    for _ in range(3):
        optimizer.zero_grad()
        F.mse_loss(net(history, lam), target).backward()
        optimizer.step()
    optimizer.zero_grad()
    F.mse_loss(net(history, lam), target).backward()
    dead = [name for name, parameter in net.named_parameters() if parameter.grad is None or parameter.grad.abs().max() == 0]
    assert not dead, f"still no gradient after 3 steps: {dead}"


@pytest.mark.parametrize(("architecture", "ndim"), CASES)
def test_bfloat16_autocast_runs(architecture, ndim):
    net = perturb(build(architecture, ndim))
    history, lam = history_for(architecture, ndim), lambdas(3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(history, lam)
    assert out.dtype == torch.float32 and bool(torch.isfinite(out).all())
    torch.testing.assert_close(out, net(history, lam), rtol=0.1, atol=0.1 * net(history, lam).abs().max().item())


def test_drift_on_whole_path_in_one_call():
    net = perturb(build("unet", 1, dtype=torch.float64))
    path = torch.randn(2, 6, 2, 16, dtype=torch.float64)
    lam = lambdas(2)
    drifts = drift_on_path(net, path, lam)
    assert drifts.shape == (2, 5, 2, 16)
    # the window ending at t_1 is zero-padded before t0 (PDD B.2, temporal boundary handling)
    history = torch.cat([torch.zeros(1, 1, 2, 16, dtype=torch.float64), path[1:2, :2]], dim=1)
    torch.testing.assert_close(drifts[1, 1], net(history, lam[1:2])[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("ndim", [1, 2])
def test_periodic_upsample_equals_transposed_convolution_on_the_circle(ndim):
    torch.manual_seed(4)
    up = PeriodicUpsample(ndim, 3).double()
    x = torch.randn(2, 3, *((5, 6)[:ndim]), dtype=torch.float64)
    # Reference: the full (zero-boundary) transposed convolution, folded modulo 2N with offset 1, plus the bias once.
    transposed = F.conv_transpose1d if ndim == 1 else F.conv_transpose2d
    full = transposed(x, up.transposed.weight, stride=2)
    reference = up.transposed.bias.reshape(-1, *(1,) * ndim).expand(2, 3, *(2 * n for n in x.shape[2:])).clone()
    for index in torch.cartesian_prod(*(torch.arange(m) for m in full.shape[2:])).reshape(-1, ndim).tolist():
        reference[(..., *((m - 1) % (2 * n) for m, n in zip(index, x.shape[2:])))] += full[(..., *index)]
    torch.testing.assert_close(up(x), reference, rtol=1e-12, atol=1e-12)


def test_spectral_convolution_acts_mode_by_mode_1d():
    torch.manual_seed(6)
    conv = SpectralConv(1, 2, modes=4).double()
    n, x = 16, torch.arange(16, dtype=torch.float64) * 2 * math.pi / 16
    weight = torch.view_as_complex(conv.weight.detach())
    for k in range(6):
        field = torch.zeros(1, 2, n, dtype=torch.float64)
        field[0, 1] = torch.cos(k * x)
        out = conv(field)[0]
        if k >= 4:
            assert out.abs().max() < 1e-12  # truncated mode
            continue
        # cos(kx) -> Re(R_{1o}(k) e^{ikx}); the imaginary part of R(0) is discarded (real output).
        expected = weight[1, :, k].real[:, None] * torch.cos(k * x) - weight[1, :, k].imag[:, None] * torch.sin(k * x)
        torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)


def test_spectral_convolution_keeps_negative_first_axis_modes_2d():
    torch.manual_seed(7)
    modes, shape = 3, (9, 10)
    conv = SpectralConv(2, 1, modes).double()
    weight = torch.view_as_complex(conv.weight.detach())[0, 0]  # rows: k1 = 0, 1, 2, -2, -1
    grid = torch.meshgrid(*(torch.arange(n, dtype=torch.float64) * 2 * math.pi / n for n in shape), indexing="ij")
    for k1, k2 in [(1, 2), (-2, 1), (-1, 2), (0, 1), (3, 1), (-3, 1), (1, 3)]:
        phase = k1 * grid[0] + k2 * grid[1]
        out = conv(torch.cos(phase)[None, None])[0, 0]
        if abs(k1) >= modes or k2 >= modes:
            assert out.abs().max() < 1e-12
            continue
        r = weight[k1 % (2 * modes - 1), k2]
        torch.testing.assert_close(out, r.real * torch.cos(phase) - r.imag * torch.sin(phase), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("architecture", "ndim"), CASES)
def test_wrong_inputs_raise_clear_errors(architecture, ndim):
    net = build(architecture, ndim)
    history, lam = history_for(architecture, ndim), lambdas(3)
    with pytest.raises(ShapeError, match="W=3"):
        net(history[:, 1:], lam)
    with pytest.raises(ShapeError, match="C=2"):
        net(history[:, :, :1], lam)
    with pytest.raises(ShapeError, match="spatial axes"):
        net(history[..., 0], lam)
    with pytest.raises(DTypeError, match="float32"):
        net(history.to(torch.int64), lam)
    with pytest.raises(ShapeError, match="lam"):
        net(history, lam[:2])
    with pytest.raises(ArgumentError, match=">= 0"):
        net(history, -lam)


def test_bad_spatial_sizes_and_modes_raise():
    with pytest.raises(ShapeError, match="divisible by 2\\^levels = 4"):
        build("unet", 1)(torch.zeros(1, 3, 2, 18), lambdas(1))
    with pytest.raises(ShapeError, match="divisible"):
        build("unet", 2)(torch.zeros(1, 3, 2, 8, 10), lambdas(1))
    with pytest.raises(ShapeError, match="modes <= 2"):
        build("fno", 1)(torch.zeros(1, 3, 2, 3), lambdas(1))  # 3 points have 2 rfft modes
    with pytest.raises(ShapeError, match="2·modes-1 <= 4"):
        build("fno", 2)(torch.zeros(1, 3, 2, 4, 10), lambdas(1))  # modes 3 need 5 rows on the first axis
    with pytest.raises(ShapeError, match="modes <= 2 on the last"):
        build("fno", 2)(torch.zeros(1, 3, 2, 10, 3), lambdas(1))  # 3 points on the last axis: 2 rfft modes


def test_bad_constructor_arguments_raise():
    with pytest.raises(ArgumentError, match="ndim=3"):
        UNet(1, ndim=3)
    with pytest.raises(ArgumentError, match="widths"):
        UNet(1, widths=())
    with pytest.raises(ArgumentError, match="attention_heads"):
        UNet(1, widths=(8, 6), attention_heads=4)
    with pytest.raises(ArgumentError, match="window"):
        FNO(1, window=0)
    with pytest.raises(ArgumentError, match="channels"):
        FNO(0)
    with pytest.raises(DTypeError, match="noise_head"):
        FNO(1, noise_head=1)


def test_presets_cover_every_size_and_reject_unknown_names():
    for architecture, by_ndim in DRIFT_PRESETS.items():
        for ndim in (1, 2):
            assert set(by_ndim[ndim]) == {"paper", "small", "tiny"}
    with pytest.raises(ConfigError, match="'huge'"):
        drift_preset("unet", 1, "huge")
    with pytest.raises(ConfigError, match="'mlp'"):
        drift_preset("mlp", 1, "paper")
    with pytest.raises(ConfigError, match="ndim=3"):
        drift_preset("fno", 3, "paper")


@pytest.mark.parametrize(("architecture", "cls"), [("unet", UNet), ("fno", FNO)])
@pytest.mark.parametrize(("ndim", "channels", "space", "coarsest"), [(1, 2, (128,), (8,)), (2, 1, (40, 40), (5, 5))])
def test_paper_presets_run_on_the_paper_grids(architecture, cls, ndim, channels, space, coarsest):
    """Lorenz-96 (2 channels x 128) and Kolmogorov flow (1 channel x 40²), PDD B.1-B.2."""
    net = cls(channels, **drift_preset(architecture, ndim, "paper"))
    assert net.in_channels == 5 * channels  # 10 input channels for L96, 5 for KF (PDD B.2)
    seen = []
    if architecture == "unet":
        net.attention.register_forward_hook(lambda module, inputs, output: seen.append(tuple(inputs[0].shape[1:])))
    with torch.no_grad():
        out = net(torch.randn(1, 5, channels, *space), lambdas(1))
    assert out.shape == (1, channels, *space)
    if architecture == "unet":
        assert seen == [(192, *coarsest)]  # attention at the coarsest level: 128 -> 8, 40 -> 5
        assert net.stem.out_channels == 32


@pytest.mark.parametrize(("architecture", "cls"), [("unet", UNet), ("fno", FNO)])
@pytest.mark.parametrize("name", ["small", "tiny"])
def test_reduced_presets_run(architecture, cls, name):
    for ndim, space in ((1, (64,)), (2, (32, 32))):
        net = perturb(cls(1, **drift_preset(architecture, ndim, name)))
        out = net(torch.randn(2, 5, 1, *space), lambdas(2))
        assert out.shape == (2, 1, *space) and bool(torch.isfinite(out).all())
