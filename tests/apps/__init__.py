"""Tests of the applications: training, inference, evaluation, lattice studies, the command line."""
