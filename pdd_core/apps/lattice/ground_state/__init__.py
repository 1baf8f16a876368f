"""Variational ground states of lattice quantum field theories by reverse exact RG (RDM Sec. 6.3, docs/rg_flows.md)."""
