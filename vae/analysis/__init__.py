"""What a trained model shows: the latent map, anomaly scores, out-of-distribution, repair."""
