"""Images in: datasets by name, folders, uploads, pixel levels, generated sets."""
