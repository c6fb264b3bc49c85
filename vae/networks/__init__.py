"""The networks: the VAE, its shape and objectives, and what is built from it."""
