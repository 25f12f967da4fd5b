"""The paper's learned generator (§3.2-3.3): graph layers, the mesh hierarchy,
the motion net, the reenacting module, the critic and the coefficient regressor.

Plain ``torch.nn`` modules, no registry; hyper-parameters live in
:mod:`reenact_cli.models.config`.
"""
