"""Classical unmixing baselines (NMF, MCR-ALS, VCA+FCLS) with the same outputs as the CNN."""
