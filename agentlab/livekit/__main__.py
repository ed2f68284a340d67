"""``python -m agentlab.livekit``: how many of LiveKit 1.8.9's public names work here, and the stand-ins with their reasons."""

from __future__ import annotations

from collections import defaultdict

from ._table import STAND_INS, counts, names


def main() -> None:
    data = names()
    core = {m: data[m] for m in ("livekit.agents", "livekit.agents.llm")}
    c, k = counts(data), counts(core)
    print(
        f"livekit.agents and livekit.agents.llm: {k['provided']} provided, {k['stand-in']} stand-ins, {k['missing']} missing (of {sum(k.values())})"
    )
    print(
        f"with voice, beta, workflows, metrics, inference, cli, room_io, text_transforms: {c['provided']} provided, {c['stand-in']} stand-ins, {c['missing']} missing (of {sum(c.values())})"
    )
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
