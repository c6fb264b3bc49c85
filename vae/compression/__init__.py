"""The VAE as a codec, beside the classical codecs it is measured against."""
