"""The command line's stage timings (MIDIME_WIDGETS_PROFILE=1) and its background steps."""

from __future__ import annotations

import io
import threading

import pytest

from midime_widgets.cli.stages import PROFILE_ENV, Background, Stages


def test_stages_print_nothing_unless_asked(monkeypatch):
    monkeypatch.delenv(PROFILE_ENV, raising=False)
    stage, out = Stages(), io.StringIO()
    with stage("work"):
        pass
    stage.report(out)
    assert out.getvalue() == "" and stage.rows == []


def test_stages_list_each_step_with_its_thread_in_order_of_start(monkeypatch):
    monkeypatch.setenv(PROFILE_ENV, "1")
    stage, out = Stages(), io.StringIO()
    with stage("first"):
        worker = Background("helper", lambda: _timed(stage, "beside"))
        worker.result()
    with pytest.raises(ValueError), stage("failing"):
        raise ValueError("a failed step is timed too")
    stage.report(out)
    lines = out.getvalue().splitlines()
    assert all(line.startswith("profile: ") for line in lines)
    assert lines[0].split()[1] == "clock" and lines[-1].split()[-1] == "end"
    steps = [line.split()[4:] for line in lines[2:-1]]
    assert steps == [["MainThread", "first"], ["helper", "beside"], ["MainThread", "failing"]]
    starts = [float(line.split()[1]) for line in lines[2:-1]]
    assert starts == sorted(starts) and float(lines[-1].split()[1]) >= starts[-1]


def _timed(stage, name):
    with stage(name):
        return threading.current_thread().name


def test_background_hands_back_its_value_or_its_error():
    assert Background("value", lambda: 42).result() == 42
    job = Background("error", lambda: 1 / 0)
    job.wait()  # waiting never raises
    with pytest.raises(ZeroDivisionError):
        job.result()
    assert not job._thread.is_alive() and job._thread.daemon
