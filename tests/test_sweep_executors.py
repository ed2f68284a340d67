"""sweep(executor=...): in-process, a process pool and a Dask cluster give identical results."""

from __future__ import annotations

import pandas as pd
import pytest

import agentlab.datasets as ads
from agentlab.sweeps import sweep

# max_tool_steps matters to the task conversations (the full simulation path), the rest to the voice ones.
GRID = {"endpointing.min_delay": [0.2, 1.0], "interruption.min_duration": [0.2, 1.0], "max_tool_steps": [0, 2]}


@pytest.fixture(scope="module")
def small():
    a, b = ads.load("dictation"), ads.load("overlaps")
    tasks = [c for c in ads.load("tasks") if c.metadata["domain"] == "order"][:2]  # 2 tool rounds in a turn: fails at 0
    return ads.Dataset("mixed", {"name": "mixed"}, [*a.conversations[:3], *b.conversations[:2], *tasks])


@pytest.fixture(scope="module")
def reference(small):
    return sweep(None, small, GRID, progress=False)


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _same(a, b):
    pd.testing.assert_frame_equal(a.summary, b.summary)
    pd.testing.assert_frame_equal(a.turns, b.turns)
    pd.testing.assert_frame_equal(a.cells, b.cells)


def test_reference_is_not_trivial(reference, small):
    assert len(reference.cells) == 8 * len(small) and (reference.cells.status == "ok").all()
    assert len(reference.turns) > 0
    success = reference.summary.groupby("max_tool_steps").task_success_rate.mean()
    assert success[0] == 0.0 and success[2] == 1.0


def test_processes_identical(small, reference, tmp_path):
    res = sweep(None, small, GRID, executor="processes", out=tmp_path / "out", progress=False)
    _same(reference, res)
    assert len(list((tmp_path / "out" / "cells").iterdir())) == 8 * len(small)
    # resumed from disk (nothing left to compute) with another executor: the same again
    _same(reference, sweep(None, small, GRID, executor=1, out=tmp_path / "out", progress=False))


def test_dask_identical_and_resumes(small, reference, dask_client, tmp_path):
    out = tmp_path / "out"
    _same(reference, sweep(None, small, GRID, executor=dask_client, out=out, progress=False))
    # lose some cells: they are recomputed on the cluster, the rest read back
    files = sorted((out / "cells").iterdir())
    for f in files[::3]:
        f.unlink()
    _same(reference, sweep(None, small, GRID, executor=dask_client, out=out, progress=False))
    assert len(list((out / "cells").iterdir())) == len(files)


@pytest.mark.parametrize("bad", ["threads", 0, -1, True, object()])
def test_bad_executor(small, bad):
    with pytest.raises(ValueError, match="executor"):
        sweep(None, small, GRID, executor=bad, progress=False)
