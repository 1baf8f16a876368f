"""``pdd rg-flow``: lattice phi^4 flows, one module per study (docs/rg_flows.md).

:mod:`~pdd_core.apps.cli.rg_flow.command` declares the command and picks the study: the exact flows by scheme
(:mod:`~pdd_core.apps.cli.rg_flow.exact`), the learned inverse RG (:mod:`~pdd_core.apps.cli.rg_flow.learned`), the
normalizing flows (:mod:`~pdd_core.apps.cli.rg_flow.flows`) and the flow as a Metropolis proposal
(:mod:`~pdd_core.apps.cli.rg_flow.flow_sampler`).
"""
