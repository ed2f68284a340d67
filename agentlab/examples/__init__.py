"""Ready-made agents for demos, notebooks and tests, and the example scenario files shipped with them.

Example::

    import agentlab as al
    from agentlab.examples import scenario_path

    run = al.load_scenario(scenario_path("weather_barge_in")).run()
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["scenario_path"]

_SCENARIOS = Path(__file__).resolve().parent / "scenarios"
_SUFFIXES = (".yaml", ".yml", ".json")


def scenario_path(name: str) -> Path:
    """The path of an example scenario shipped with the package, by name (with or without its suffix),
    so examples run from any folder and from an installed wheel.

    Example::

        scenario_path("weather_barge_in")   # .../agentlab/examples/scenarios/weather_barge_in.yaml
    """
    if not isinstance(name, str):
        raise TypeError(f"scenario_path: expected a scenario name (str), got {type(name).__name__} {name!r}")
    if "/" not in name and "\\" not in name:  # a name, not a path out of the folder
        candidates = [name] if name.endswith(_SUFFIXES) else [f"{name}{s}" for s in _SUFFIXES]
        for file in candidates:
            if (_SCENARIOS / file).is_file():
                return _SCENARIOS / file
    known = sorted(p.stem for p in _SCENARIOS.iterdir() if p.suffix in _SUFFIXES)
    raise FileNotFoundError(f"scenario_path: no example scenario {name!r} (shipped: {', '.join(known) or 'none'})")
