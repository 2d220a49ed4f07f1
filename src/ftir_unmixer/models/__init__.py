"""The FTIR-unmixer network (encoder, positive decoder, autoencoder) and its LightningModule."""
