"""`counterwatch bench pipeline`: the thread option, and the Ultralytics loop kept in a process of its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_threads_must_be_positive(capsys):
    assert main(["bench", "pipeline", "--threads", "0", "--modes", "optimised"]) == 2
    assert "--threads must be >= 1" in capsys.readouterr().err


@pytest.mark.models
@pytest.mark.data
def test_ultralytics_runs_in_its_own_process_on_the_planned_threads(ultralytics_extra, demo_clip, models_dir,
                                                                   tmp_path):
    out = tmp_path / "bench.json"
    code = ("import sys; from pipeline.cli import main; "
            f"rc = main(['bench', 'pipeline', '--clip', {str(demo_clip)!r}, '--fps', '0.5', '--rounds', '1', "
            f"'--threads', '1', '--modes', 'optimised,ultralytics', '--json', {str(out)!r}]); "
            "print('TORCH_IN_PARENT', 'torch' in sys.modules); sys.exit(rc)")
    env = {"COUNTERWATCH_MODELS_DIR": str(models_dir), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "TORCH_IN_PARENT False" in res.stdout  # torch never loaded where the other modes are measured
    got = json.loads(out.read_text())
    assert got["threads"]["onnxruntime_intra_op"] == 1 and got["threads"]["opencv"] == 1
    opt, ul = got["modes"]["optimised"], got["modes"]["ultralytics"]
    assert opt["frames"] == ul["frames"] >= 8  # the same 0.5 fps frames of the 16.7 s clip
    assert ul["cpu_s"] > 0 and opt["cpu_s"] > 0
    assert got["ratios"]["ultralytics_over_optimised_cpu"] > 0
