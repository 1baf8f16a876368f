"""Tests of the core, pdd_core outside its applications."""
