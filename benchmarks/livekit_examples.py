"""How many agent files of LiveKit's own examples folder run in ``agentlab console``, unchanged.

Each file that defines an entrypoint (``@server.rtc_session``, ``WorkerOptions`` or ``def
entrypoint``) is run in ``agentlab console`` with "Hello" typed in, offline (no OPENAI_API_KEY: the
scripted LLM stands in for its model), with a 60 s limit. Exit status 0 counts as ran; for the
others the last line of the output says why. Needs a checkout of github.com/livekit/agents.

Run:  python benchmarks/livekit_examples.py PATH/TO/livekit-agents-checkout
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

_ENTRYPOINT = re.compile(r"rtc_session|WorkerOptions|def entrypoint")


def main(root: Path) -> int:
    files = sorted(p for p in (root / "examples").rglob("*.py") if _ENTRYPOINT.search(p.read_text(errors="replace")))
    env = {**os.environ, "OPENAI_API_KEY": ""}
    ran = 0
    for path in files:
        cmd = [sys.executable, "-m", "agentlab", "console", str(path.relative_to(root))]
        try:
            p = subprocess.run(cmd, input="Hello\n", capture_output=True, text=True, timeout=60, cwd=root, env=env)
            ok, why = p.returncode == 0, ([line for line in (p.stdout + p.stderr).splitlines() if line.strip()] or [""])[-1]
        except subprocess.TimeoutExpired:
            ok, why = False, "timed out after 60 s"
        ran += ok
        print(f"{'ran   ' if ok else 'failed'}  {path.relative_to(root)}" + ("" if ok else f"\n          {why[:200]}"))
    print(f"\n{ran} of {len(files)} agent files ran in agentlab console")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    raise SystemExit(main(Path(sys.argv[1])))
