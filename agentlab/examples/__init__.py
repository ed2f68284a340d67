"""Ready-made agents for demos, notebooks and tests."""
