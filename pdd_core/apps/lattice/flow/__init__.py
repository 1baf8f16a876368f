"""RDM's normalizing-flow experiment (Sec. 7.1, 7.4, Figs. 7-8): a continuous flow of lattice fields trained
with objective 5.22 or reverse KL 5.5, and the flow as an exact-density Metropolis proposal (docs/rg_flows.md)."""

from pdd_core.apps.lattice.flow.base import DataBase
from pdd_core.apps.lattice.flow.cnf import ContinuousFlow, FlowSettings
from pdd_core.apps.lattice.flow.objectives import RDMObjective, ReverseKL
from pdd_core.apps.lattice.flow.proposal import FlowProposal, importance_ess_per_sample
from pdd_core.apps.lattice.flow.training import FlowTraining, load_flow, train_flow

__all__ = ["ContinuousFlow", "DataBase", "FlowProposal", "FlowSettings", "FlowTraining", "RDMObjective", "ReverseKL", "importance_ess_per_sample", "load_flow", "train_flow"]
