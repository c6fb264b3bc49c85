"""Training and evaluating a VAE from the command line."""
