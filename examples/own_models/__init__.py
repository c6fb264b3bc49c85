"""VAEs written elsewhere, in our own words, opened by the explorer as trusted code (docs/own-models.md)."""
