"""One module per ``kernelvis`` subcommand (see :mod:`kernelvis.cli`)."""
