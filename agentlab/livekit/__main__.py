"""``python -m agentlab.livekit``: how many of LiveKit 1.8.9's public names work here, and the stand-ins with their reasons."""

from __future__ import annotations

from collections import defaultdict

from ._table import STAND_INS, counts, names


def main() -> None:
    data = names()
    core = {m: data[m] for m in ("livekit.agents", "livekit.agents.llm")}
    c, k = counts(data), counts(core)
    groups = (
        ("livekit.agents and livekit.agents.llm", k),
        ("with voice, beta, workflows, metrics, inference, cli, room_io, text_transforms", c),
    )
    for label, n in groups:
        print(f"{label}: {n['provided']} provided, {n['stand-in']} stand-ins, {n['missing']} missing (of {sum(n.values())})")
    by_reason: dict[str, list[str]] = defaultdict(list)
    for module, entries in STAND_INS.items():
        short = module.removeprefix("livekit.agents").lstrip(".")
        for name, reason in entries.items():
            by_reason[reason].append(f"{short}.{name}".lstrip(".").rstrip("/"))
    print("\nstand-ins (they import; using one raises Unsupported with the reason):")
    for reason, entries in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
        print(f"- {reason}: {', '.join(sorted(entries))}")


if __name__ == "__main__":
    main()
