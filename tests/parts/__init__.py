"""Tests of the concrete parts: systems, schemes."""
