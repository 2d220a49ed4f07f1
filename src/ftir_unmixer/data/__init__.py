"""Data: synthetic cross-sections, preprocessing, the patch sampler and the DataModule."""
