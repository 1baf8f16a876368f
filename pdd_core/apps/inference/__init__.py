"""Inference with a trained run: the run as objects (:mod:`~pdd_core.apps.inference.runs`), its three
tasks, simulate, generate and super-resolve (:mod:`~pdd_core.apps.inference.tasks`), their input and
output files (:mod:`~pdd_core.apps.inference.file_io`), resumable rollouts, rollout settings and the
residual noise of stochastic rollouts."""
