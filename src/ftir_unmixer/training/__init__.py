"""Training with Hydra and Lightning: the run pipeline, its callbacks, loggers and resolvers.

Importing the package is cheap; its modules import Lightning and Hydra themselves.
"""
