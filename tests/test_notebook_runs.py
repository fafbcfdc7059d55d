"""Each lesson's TensorBoard runs, read back with TensorBoard's own event reader.

The notebooks ran earlier in this session (nbval) or are executed by the ``notebook_runs``
fixture; either way, in CI settings and into this session's private runs folder.
"""

import pytest
from lessons import PROMISED

from helpers.board import LESSONS, read_run, read_scalars


def test_every_lesson_promises_runs():
    assert set(PROMISED) == set(LESSONS.values())


@pytest.mark.parametrize("topic", list(PROMISED))
def test_runs_hold_exactly_the_promised_tags(notebook_runs, topic):
    on_disk = sorted(p.name for p in (notebook_runs / topic).iterdir() if p.is_dir())
    assert on_disk == sorted(PROMISED[topic])
    for run, promised in PROMISED[topic].items():
        tags = read_run(notebook_runs / topic / run)
        for kind in ("images", "scalars", "histograms"):
            assert tags[kind] == promised.get(kind, []), f"{topic}/{run} {kind}"
        assert bool(tags["graph"]) == promised.get("graph", False), f"{topic}/{run} graph"


@pytest.mark.parametrize("topic", list(PROMISED))
def test_scalar_steps_are_written_once(notebook_runs, topic):
    for run, promised in PROMISED[topic].items():
        for tag in promised.get("scalars", []):
            steps = [step for step, _ in read_scalars(notebook_runs / topic / run, tag)]
            assert steps and len(steps) == len(set(steps)), f"{topic}/{run} {tag}: {steps}"
