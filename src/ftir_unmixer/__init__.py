"""ftir-unmixer: blind unmixing of ATR-µFTIR images of paint cross-sections.

The package implements the patch-based CNN autoencoder of Pande et al. with its weighted
spectral angle distance (WSAD) loss and automatic band-reliability weights (Eq. 8–13);
docs/method.md maps each equation to its code. Importing the package is cheap: heavy dependencies
(torch, Lightning) are imported only by the modules that need them.
"""

__version__ = "0.1.0"
