"""Generated paths with and without the system's state projection, against the test paths.

    python experiments/variance/projected_generation.py GEN.h5 RUN_DIR DATA.h5 [--split test]

GEN.h5 is a `pdd generate` output of RUN_DIR (standardised frames). Prints, as JSON, the
spectral error (Eq. 64) and the climate block (per-channel std ratio, PSD ratio range) of the
generated paths as they are and after the training system's state projection (Lorenz-96: each
block of X replaced by its mean), against the split of DATA.h5 standardised the same way: the
same samples, so the difference is the projection's alone.
"""

from __future__ import annotations

import argparse
import json

import h5py
import torch

import solvers  # noqa: F401  (registers the integrators a run's config may name)
from pdd_core.apps.inference.file_io import read_paths
from pdd_core.apps.inference.runs import load_run
from pdd_core.metrics import climate, relative_spectral_error


def summary(generated: torch.Tensor, reference: torch.Tensor, names: list[str]) -> dict:
    block = climate(generated, reference, channel_names=names)
    channels = {name: {key: round(record[key], 4) for key in ("std_ratio", "psd_ratio_min", "psd_ratio_max")} for name, record in block["channels"].items()}
    return {"spectral_error": round(relative_spectral_error(reference, generated), 4), "channels": channels}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("generated")
    parser.add_argument("run")
    parser.add_argument("data")
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    run = load_run(args.run)
    projection = run.state_projection()
    if projection is None:
        parser.error(f"the system of {args.run} declares no state projection")
    with h5py.File(args.generated) as file:
        generated = torch.as_tensor(file["train"][:]).to(run.dtype)
    reference = read_paths(run, args.data, split=args.split).u.to(run.dtype)[:, : generated.shape[1]]
    names = [f"c{c}" for c in range(run.grid.channels)]
    result = {"paths": generated.shape[0], "frames": generated.shape[1], "reference_paths": reference.shape[0]}
    result["as_generated"] = summary(generated, reference, names)
    result["projected"] = summary(projection(generated), reference, names)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
