"""Examples that go with the docs: models written elsewhere, opened by the explorer."""
