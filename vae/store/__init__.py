"""Models on disk: checkpoints, their metadata, atomic writes, exports for other runtimes."""
