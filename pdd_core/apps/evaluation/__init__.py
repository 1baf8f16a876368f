"""Evaluation of a trained run against reference data: the metrics of each task
(:mod:`~pdd_core.apps.evaluation.run_metrics`), The Well's errors and ensemble scores
(:mod:`~pdd_core.apps.evaluation.forecast_scores`), the floors of spectral errors and the climate of
long rollouts (:mod:`~pdd_core.apps.evaluation.rollout_climate`)."""
