"""Lattice field theory on top of the RG schemes: estimators (RDM 7.3-7.11), resampling
errors and exact forward RG flows with the scheme comparison of RDM 5.53-5.55.

The estimators and flows take samples, grids and scheme objects as arguments (``pdd rg-flow``
composes the concrete ones); of the studies beside them, the ground-state objective builds its
own Carosso scheme and the flow training looks its system up by the name a record stores.
"""

from pdd_core.apps.lattice.estimators import (
    LOWEST_MOMENTA,
    QUANTITIES,
    EffectiveCutoff,
    FlowPoint,
    connected_four_point,
    effective_cutoff,
    field_array,
    flow_estimators,
    max_abs_field,
    momentum_squared,
    position_two_point,
    rdm_fourier,
    renormalised_quantities,
    two_point,
)
from pdd_core.apps.lattice.rg_flow import FIELD_POWERS, ComparisonPoint, compare_at, compare_flows, flow_samples, iter_flow
from pdd_core.metrics.resampling import Bootstrap, Estimate, Jackknife, mean_estimate

__all__ = [
    "Bootstrap",
    "ComparisonPoint",
    "EffectiveCutoff",
    "Estimate",
    "FIELD_POWERS",
    "FlowPoint",
    "Jackknife",
    "LOWEST_MOMENTA",
    "QUANTITIES",
    "compare_at",
    "compare_flows",
    "connected_four_point",
    "effective_cutoff",
    "field_array",
    "flow_estimators",
    "flow_samples",
    "iter_flow",
    "max_abs_field",
    "mean_estimate",
    "momentum_squared",
    "position_two_point",
    "rdm_fourier",
    "renormalised_quantities",
    "two_point",
]
