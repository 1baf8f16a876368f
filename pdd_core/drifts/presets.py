"""Named sizes of the neural drifts: constructor keyword arguments per architecture and ndim.

* ``paper``: PDD B.2. U-Net 1D (Lorenz-96, 128 points): 32 then 64, 128, 128, 192 channels,
  four stride-2 downsamplings (128 -> 8); 2D (Kolmogorov flow, 40 x 40): 32 then 64, 128,
  192, three downsamplings (40 -> 5). FNO: width 64; 1D 8 layers and 56 modes, 2D 6 layers
  and 16 modes. Not stated in the paper and chosen here: two residual blocks per level,
  4 attention heads, a 128-wide λ embedding, a 128-wide FNO projection.
* ``small``: same depth (so the same grid divisibility / mode limits), about 4x narrower:
  CPU training of a few thousand steps runs in minutes.
* ``tiny``: minimal widths for tests and smoke runs (seconds on CPU).

The U-Net presets keep the paper's number of levels, so 1D grids must be multiples of 16
and 2D grids multiples of 8; the FNO presets need ``modes`` within the grid's limits
(1D: modes <= N/2 + 1; 2D: 2·modes - 1 <= N_1 and modes <= N_2/2 + 1). A smaller grid
than the paper's can pass explicit ``modes`` / ``widths`` overrides.
"""

from __future__ import annotations

from typing import Any

from pdd_core.errors import ConfigError, bad_argument

DRIFT_PRESETS: dict[str, dict[int, dict[str, dict[str, Any]]]] = {
    "unet": {
        1: {
            "paper": {"base": 32, "widths": (64, 128, 128, 192), "blocks_per_level": 2, "attention_heads": 4, "norm_groups": 32, "embedding_dim": 128},
            "small": {"base": 16, "widths": (16, 32, 32, 48), "blocks_per_level": 1, "attention_heads": 4, "norm_groups": 8, "embedding_dim": 64},
            "tiny": {"base": 8, "widths": (8, 8, 16, 16), "blocks_per_level": 1, "attention_heads": 2, "norm_groups": 4, "embedding_dim": 16},
        },
        2: {
            "paper": {"base": 32, "widths": (64, 128, 192), "blocks_per_level": 2, "attention_heads": 4, "norm_groups": 32, "embedding_dim": 128},
            "small": {"base": 16, "widths": (16, 32, 48), "blocks_per_level": 1, "attention_heads": 4, "norm_groups": 8, "embedding_dim": 64},
            "tiny": {"base": 8, "widths": (8, 16, 16), "blocks_per_level": 1, "attention_heads": 2, "norm_groups": 4, "embedding_dim": 16},
        },
    },
    "fno": {
        1: {
            "paper": {"width": 64, "layers": 8, "modes": 56, "projection_width": 128, "embedding_dim": 128},
            "small": {"width": 24, "layers": 4, "modes": 32, "projection_width": 48, "embedding_dim": 64},
            "tiny": {"width": 8, "layers": 2, "modes": 8, "projection_width": 16, "embedding_dim": 16},
        },
        2: {
            "paper": {"width": 64, "layers": 6, "modes": 16, "projection_width": 128, "embedding_dim": 128},
            "small": {"width": 24, "layers": 4, "modes": 12, "projection_width": 48, "embedding_dim": 64},
            "tiny": {"width": 8, "layers": 2, "modes": 4, "projection_width": 16, "embedding_dim": 16},
        },
    },
}


def drift_preset(architecture: str, ndim: int, name: str) -> dict[str, Any]:
    """Constructor kwargs (without ``channels``/``window``) of a named preset, as a fresh dict.

    Usage: ``UNet(channels=2, ndim=1, **drift_preset("unet", 1, "paper"))``.
    """
    if architecture not in DRIFT_PRESETS:
        problem = f"unknown drift architecture, expected one of {tuple(DRIFT_PRESETS)}"
        raise bad_argument("architecture", architecture, problem, "use 'unet' or 'fno'", kind=ConfigError)
    by_ndim = DRIFT_PRESETS[architecture]
    if ndim not in by_ndim:
        raise bad_argument("ndim", ndim, f"no {architecture} presets for {ndim} spatial dimensions", f"use one of {tuple(by_ndim)}", kind=ConfigError)
    if name not in by_ndim[ndim]:
        problem = f"unknown {architecture} preset, expected one of {tuple(by_ndim[ndim])}"
        raise bad_argument("preset", name, problem, "use 'paper', 'small' or 'tiny'", kind=ConfigError)
    return {"ndim": ndim, **by_ndim[ndim][name]}


__all__ = ["DRIFT_PRESETS", "drift_preset"]
