"""Quiet by default: importing the package, loading the default model and training MidiMe print
no TensorFlow log line; MIDIME_WIDGETS_DEBUG=1 brings them back."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TF_LINE = re.compile(r"^[IWEF]\d{4} |absl::InitializeLog|cuda|oneDNN", re.IGNORECASE | re.MULTILINE)
LOAD = """
import numpy as np
import midime_widgets
from midime_widgets import MusicVAE, Personalizer, examples
vae = MusicVAE.default()
print("loaded")
"""
SCRIPT = LOAD + """
p = Personalizer(vae, seed=0)
p.add_midi(examples.path("folk_band"))
p.fit(epochs=3)
print("notes", len(p.sample(1, seed=0)[0].sequence.notes) >= 0)
"""


def start(script: str = SCRIPT, **env: str) -> subprocess.Popen:
    """Run `script` in a child process with TensorFlow's log settings cleared, then `env` added."""
    clean = {k: v for k, v in os.environ.items()
             if k not in ("TF_CPP_MIN_LOG_LEVEL", "MIDIME_WIDGETS_DEBUG", "MIDIME_WIDGETS_NATIVE_LOGS",
                          "MIDIME_WIDGETS_QUIET_TF_LEVEL")}
    clean["PYTHONPATH"] = os.pathsep.join([str(REPO), clean.get("PYTHONPATH", "")])
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**clean, **env}, cwd=REPO)


def finish(proc: subprocess.Popen) -> subprocess.CompletedProcess:
    stdout, stderr = proc.communicate(timeout=600)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def test_no_tensorflow_log_lines_by_default_and_all_of_them_when_asked():
    # The three processes are independent, so they run side by side.
    procs = [start(), start(TF_CPP_MIN_LOG_LEVEL="3", MIDIME_WIDGETS_QUIET_TF_LEVEL="3"),  # a child of a quiet process
             # TensorFlow logs as it loads, so loading the model shows whether the lines come back.
             start(LOAD, MIDIME_WIDGETS_DEBUG="1")]
    try:
        quiet, inherited, loud = (finish(proc) for proc in procs)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert "notes True" in quiet.stdout
    assert not TF_LINE.search(quiet.stderr), quiet.stderr[-2000:]
    assert inherited.returncode == 0 and not TF_LINE.search(inherited.stderr), inherited.stderr[-2000:]
    assert loud.returncode == 0 and "loaded" in loud.stdout, loud.stderr[-2000:]
    assert TF_LINE.search(loud.stderr), "MIDIME_WIDGETS_DEBUG=1 should keep TensorFlow's log lines"
