"""``python -m agentlab``: the ``agentlab`` command (:func:`agentlab.cli.main`), for when its script is not on PATH.

Example::

    python -m agentlab --version
    python -m agentlab sweep sweep.yaml
"""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
