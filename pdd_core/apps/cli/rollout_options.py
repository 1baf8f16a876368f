"""The options of long and stochastic rollouts that `pdd simulate`, `pdd evaluate` and `pdd demo` share:
the time integrator and its options, the increment noise of stochastic rollouts and the thermalizer."""

from __future__ import annotations

import argparse
import math
from typing import Any

import attrs

from pdd_core.apps.cli.data import parse_setting
from pdd_core.apps.inference.climate_closure import ITERATIONS as CLOSURE_ROUNDS
from pdd_core.apps.inference.climate_closure import MIN_RESPONSE, SECANT_ITERATIONS, SPEED_TOLERANCE, ClimateClosure
from pdd_core.apps.inference.climate_closure import PATHS as CLOSURE_PATHS
from pdd_core.apps.inference.climate_closure import STEPS as CLOSURE_STEPS
from pdd_core.apps.inference.closure_cache import ClosureCache
from pdd_core.apps.inference.residual_noise import ResidualNoise
from pdd_core.apps.inference.runs import TrainedRun, run_marginal
from pdd_core.config import from_dict
from pdd_core.errors import ConfigError, PDDError, bad_argument
from pdd_core.registry import INTEGRATORS, SAMPLERS
from pdd_core.sampler_recipe import SamplerOptions
from pdd_core.thermalizer import Thermalizer

# The pull-back: gpc (the default sampler of generation) around the data's Gaussian marginal of
# the drift's window; its settings were chosen by measurement (docs/results.md, "Rollout climate").
THERMALIZER_SAMPLER = "gpc"
DEFAULT_PUSH = 0.05
DEFAULT_STEPS = 5


# How stochastic rollouts draw their increment noise: calibrated on the drift's residuals on the
# training data (residual: it keeps the climate where the model's Σ̃_λ collapses) or as the run's
# path density models it (Σ̃_λ(k) per mode, or Eq. 58's σ_λ); climate (the default) starts from the
# residual noise and fits a per-mode damping of the drift (and lowers the noise where damping cannot
# help) on calibration rollouts, so that they keep the training data's variance: on three Lorenz-96
# seeds it brings the λ = 0 variance and PSD closer to the truth's than residual noise alone, at the
# same speed and spectral error (docs/results.md, "Rollout climate").
ROLLOUT_NOISE = ("climate", "residual", "model")


def add_integrator_option_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--integrator-set",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="options of the time integrator, its attrs fields (values are JSON literals, else strings); the built-in euler and euler-maruyama have none",
    )


def build_integrator(name: str, texts: list[str]) -> tuple[Any, dict[str, Any]]:
    """The integrator registered as ``name`` built with the ``KEY=VALUE`` options, and those options (for provenance)."""
    cls = INTEGRATORS.get(name)
    for text in texts:
        if "=" not in text:
            raise bad_argument("--integrator-set", text, "expected KEY=VALUE", "write e.g. --integrator-set order=2", kind=ConfigError)
    options = dict(parse_setting(text) for text in texts)
    fields = [field.name for field in attrs.fields(cls) if field.init] if attrs.has(cls) else []
    for key in options:
        if key not in fields:
            takes = f"use one of {fields}" if fields else f"drop it: {name} has no options"
            raise bad_argument("--integrator-set", key, f"not an option of the integrator {name}", takes, kind=ConfigError)
    if not options:
        return cls(), options
    try:
        return from_dict(cls, options), options
    except PDDError as error:  # the record's own problem, under the flag that gave the values
        problem = str(error).split(". Fix:")[0]
        raise bad_argument("--integrator-set", " ".join(texts), problem, f"pass valid values for {name}'s options {fields}", kind=ConfigError) from None


DETERMINISTIC_INTEGRATOR = "euler"  # PDD Algorithm 2 with σ = 0
STOCHASTIC_INTEGRATOR = "euler-maruyama"  # the increments of the path law, PDD D.1


def add_integrator_choice_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--integrator`` and ``--stochastic-integrator``: the time integrators of a drift run's σ = 0 and σ > 0 rollouts."""
    names = ", ".join(INTEGRATORS.names())
    parser.add_argument("--integrator", default=DETERMINISTIC_INTEGRATOR, metavar="NAME", help=f"time integrator of the deterministic rollouts, from the INTEGRATORS registry ({names}); default: euler")
    parser.add_argument("--stochastic-integrator", default=STOCHASTIC_INTEGRATOR, metavar="NAME", help="time integrator of the stochastic rollouts (ensembles, climate, super-resolution input); default: euler-maruyama")


def build_drift_integrator(name: str, flag: str):
    """The registered integrator ``name`` for a drift run; a name that is unknown or samples increments is refused under ``flag``."""
    if name not in INTEGRATORS.names():
        raise bad_argument(flag, name, "unknown time integrator", f"use one of {INTEGRATORS.names()}", kind=ConfigError)
    if getattr(INTEGRATORS.get(name), "samples_increments", False):
        raise bad_argument(flag, name, "samples the increments of a conditional-denoising run, not a drift", "use euler or euler-maruyama", kind=ConfigError)
    return build_integrator(name, [])[0]


def add_rollout_noise_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--rollout-noise",
        default="climate",
        metavar="KIND",
        help="increment noise of stochastic rollouts: residual (per mode, the variance the drift leaves on the training data), climate (the residual noise with a per-mode damping of the drift fitted so that calibration rollouts keep the training data's variance) or model (the path density's Σ̃_λ, PDD D.1); default: climate",
    )
    parser.add_argument(
        "--closure-rounds",
        type=int,
        default=None,
        metavar="N",
        help=f"calibration rounds of --rollout-noise climate at every λ (each one rollout of {CLOSURE_STEPS} steps of {CLOSURE_PATHS} paths; more fit the "
        f'variance closer at that cost, docs/results.md "Rollout climate"; default: {SECANT_ITERATIONS} at λ = 0, {CLOSURE_ROUNDS} at λ > 0)',
    )
    parser.add_argument(
        "--closure-min-response",
        type=float,
        default=None,
        metavar="G",
        help="the smallest response of a mode's variance to its damping that --rollout-noise climate's secant update assumes from its second round, in (0, 1], "
        f'at every λ (1: the linear rule; docs/results.md "A secant update"; default: {MIN_RESPONSE} at λ = 0, where it keeps the variance of chaotic modes, '
        "1 at λ > 0, where it carried small modes past theirs)",
    )
    parser.add_argument(
        "--closure-speed-tolerance",
        default=str(SPEED_TOLERANCE),
        metavar="TOL",
        help="where a channel of --rollout-noise climate's calibration rollouts moves more than TOL slower or faster than the training data (root-mean-square "
        f'increment per step), its noise is scaled towards that band (and its damping refitted to keep its variance); in (0, 1), or off; docs/results.md "The speed"; default: {SPEED_TOLERANCE}',
    )


def speed_tolerance(text: str) -> float | None:
    """``--closure-speed-tolerance``'s value: a float in (0, 1), or None for ``off``; a one-line error otherwise."""
    if text == "off":
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < 1:  # also NaN
        raise bad_argument("--closure-speed-tolerance", text, "must be in (0, 1) or off", f"pass e.g. --closure-speed-tolerance {SPEED_TOLERANCE}", kind=ConfigError)
    return value


def build_noise_level(args: argparse.Namespace, run: TrainedRun) -> ResidualNoise | ClimateClosure | None:
    """The noise level of ``--rollout-noise`` (None: the model's), checked in one line."""
    if args.rollout_noise not in ROLLOUT_NOISE:
        raise bad_argument("--rollout-noise", args.rollout_noise, "unknown kind of rollout noise", f"use one of {', '.join(ROLLOUT_NOISE)}", kind=ConfigError)
    if args.rollout_noise == "model" or not run.objective.trains_drift:
        return None
    if run.data_path is None:
        raise bad_argument("--rollout-noise", args.rollout_noise, f"calibrates on the run's training file, which is not found ({run.config.data})", "make the file available or pass --rollout-noise model", kind=ConfigError)
    residual = ResidualNoise(run, run.data_path, split=run.config.split, seed=args.seed)
    if args.rollout_noise != "climate":
        return residual
    if args.closure_rounds is not None and args.closure_rounds < 1:
        raise bad_argument("--closure-rounds", args.closure_rounds, "must be >= 1", f"pass e.g. --closure-rounds {CLOSURE_ROUNDS}", kind=ConfigError)
    if args.closure_min_response is not None and not 0 < args.closure_min_response <= 1:  # also NaN
        raise bad_argument("--closure-min-response", args.closure_min_response, "must be in (0, 1]", f"pass e.g. --closure-min-response {MIN_RESPONSE} (1: the linear rule)", kind=ConfigError)
    return ClimateClosure(residual, iterations=args.closure_rounds, min_response=args.closure_min_response, speed_tolerance=speed_tolerance(args.closure_speed_tolerance), cache=ClosureCache.of_run(run.run_dir))


def noise_settings(noise_level: ResidualNoise | ClimateClosure | None) -> dict[str, Any]:
    return {"rollout_noise": {"kind": "model"} if noise_level is None else noise_level.describe()}


def stochastic_options(noise_level: ResidualNoise | ClimateClosure | None) -> dict[str, Any]:
    """The ``noise_level`` and ``drift_correction`` of a stochastic rollout's settings for ``--rollout-noise``."""
    correction = noise_level.correction if isinstance(noise_level, ClimateClosure) else None
    return {"noise_level": noise_level, "drift_correction": correction}


def add_thermalizer_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--thermalize",
        type=int,
        default=0,
        metavar="M",
        help="every M physical steps push the drift's window to λ + δ and sample it back to λ with the run's own path score (0: off; default: 0)",
    )
    parser.add_argument("--thermalize-push", type=float, default=DEFAULT_PUSH, metavar="D", help=f"δ, how far in λ the window is pushed (default: {DEFAULT_PUSH:g})")
    parser.add_argument("--thermalize-steps", type=int, default=DEFAULT_STEPS, metavar="K", help=f"λ steps of the pull-back ({THERMALIZER_SAMPLER}, 2 network calls each; default: {DEFAULT_STEPS})")


def build_thermalizer(args: argparse.Namespace, run: TrainedRun) -> Thermalizer | None:
    """The thermalizer the options ask for (None when ``--thermalize`` is 0), checked in one line per flag."""
    if args.thermalize < 0:
        raise bad_argument("--thermalize", args.thermalize, "must be >= 0", "pass 0 (off) or a number of physical steps, e.g. --thermalize 20", kind=ConfigError)
    if not (math.isfinite(args.thermalize_push) and args.thermalize_push > 0):
        raise bad_argument("--thermalize-push", args.thermalize_push, "must be a finite number > 0", f"pass e.g. --thermalize-push {DEFAULT_PUSH:g}", kind=ConfigError)
    if args.thermalize_steps < 1:
        raise bad_argument("--thermalize-steps", args.thermalize_steps, "must be >= 1", f"pass e.g. --thermalize-steps {DEFAULT_STEPS}", kind=ConfigError)
    if args.thermalize == 0:
        return None
    if not run.objective.trains_drift or run.objective.name == "conditional-denoising":
        raise bad_argument("--thermalize", args.thermalize, f"thermalizes a drift's rollout with its path score; this run's objective is {run.objective.name!r}", "drop --thermalize", kind=ConfigError)
    window = run.model.window
    if args.thermalize < window:
        raise bad_argument("--thermalize", args.thermalize, f"must be at least the drift's window ({window}), so that no zero padding is resampled", f"pass --thermalize >= {window}", kind=ConfigError)
    sampler = SAMPLERS.get(THERMALIZER_SAMPLER).build(SamplerOptions(run_marginal(run, window)))
    return Thermalizer(every=args.thermalize, push=args.thermalize_push, steps=args.thermalize_steps, sampler=sampler)


def thermalizer_settings(thermalizer: Thermalizer | None) -> dict[str, Any]:
    """The thermalizer's settings and cost for metrics and provenance (``{"thermalize": None}`` when off)."""
    if thermalizer is None:
        return {"thermalize": None}
    calls = thermalizer.network_calls
    record = {"every": thermalizer.every, "push": thermalizer.push, "steps": thermalizer.steps, "sampler": THERMALIZER_SAMPLER}
    return {"thermalize": {**record, "network_calls_per_application": calls, "network_calls_per_step": calls / thermalizer.every}}
