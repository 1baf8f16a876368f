"""The applications on top of the core: trained runs, dataset I/O, training, inference, evaluation,
lattice studies, plots and the ``pdd`` command. They import the core; the core never imports them."""
