"""Data package: weights that ship with reenact (installed as ``reenact_cli.weights``)."""
