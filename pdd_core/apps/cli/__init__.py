"""The ``pdd`` command line: the one place that composes concrete parts by name."""
