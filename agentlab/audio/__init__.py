from .io import *  # noqa: F403  (temporary)
