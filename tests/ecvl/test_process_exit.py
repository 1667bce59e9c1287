"""How a user's process ends, checked in new processes.

- A script that raises while a DLDataset is started ends with that exception (status 1 and its
  traceback), never with the C++ runtime's SIGABRT ("terminate called without an active
  exception"), and a script that forgets ``Stop()`` exits cleanly: several runs, as the abort was
  intermittent.
- A user's script folder holding ``openslide.py`` (pyecvl's own example has that name) does not
  replace openslide-python when ECVL reads a slide.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import pytest
import skimage.data

ROOT = Path(__file__).resolve().parents[2]
CMU = ROOT / ".data" / "cmu_small_region.svs"


def _run(script: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, str(script), *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=180,
    )  # fmt: skip


@pytest.fixture(scope="module")
def busy_dataset(tmp_path_factory) -> Path:
    """96 real 64×64 tiles: enough that the workers are loading when the script ends."""
    root = tmp_path_factory.mktemp("busy")
    ihc = cv2.cvtColor(skimage.data.immunohistochemistry(), cv2.COLOR_RGB2GRAY)
    lines = ["classes: [a, b]", "images:"]
    for i in range(96):
        y, x = divmod(i, 12)
        cv2.imwrite(str(root / f"t{i}.png"), ihc[y * 40 :, x * 36 :][:64, :64])
        lines.append(f"  - location: t{i}.png\n    label: {'ab'[i % 2]}")
    (root / "busy.yml").write_text("\n".join(lines) + "\n")
    return root / "busy.yml"


SCRIPT = """
import sys
import deephealth.ecvl as ecvl
augs = ecvl.DatasetAugmentations([ecvl.SequentialAugmentationContainer([
    ecvl.AugRotate([-5, 5]), ecvl.AugAdditivePoissonNoise([0, 40]), ecvl.AugToFloat32(255)])])
d = ecvl.DLDataset(sys.argv[1], 4, augs, ecvl.ColorType.GRAY, num_workers=4, queue_ratio_size=20)
d.Start()
d.GetBatch()
if sys.argv[2] == "raise":
    raise ValueError("user error while the loader runs")
print("left without Stop()")
"""


@pytest.mark.parametrize("mode,runs", [("raise", 3), ("exit", 1)])
def test_started_dataset_never_aborts_the_process(busy_dataset, tmp_path, mode, runs):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    for _ in range(runs):  # the abort came in 4 runs of 5 before the fix
        res = _run(script, str(busy_dataset), mode, cwd=tmp_path)
        assert "terminate called" not in res.stderr and "FATAL" not in res.stderr, res.stderr
        if mode == "raise":
            assert res.returncode == 1, res.stderr
            assert res.stderr.rstrip().endswith("ValueError: user error while the loader runs")
        else:
            assert res.returncode == 0, res.stderr
            assert "left without Stop()" in res.stdout


READ_SLIDE = """
import sys
{preimport}
import deephealth.ecvl as ecvl
with ecvl.OpenSlideImage(sys.argv[1]) as s:
    img = s.ReadRegion(0, [0, 0, 32, 16])
print(img.dims_, ecvl.ECVL_WITH_OPENSLIDE)
import openslide as user_module
print(getattr(user_module, "MARK", "real"))
"""


@pytest.mark.parametrize("preimport", ["", "import openslide"])
def test_user_openslide_py_does_not_shadow_the_backend(tmp_path, preimport):
    (tmp_path / "openslide.py").write_text("MARK = 'user script'\n")
    script = tmp_path / "read_slide.py"
    script.write_text(READ_SLIDE.format(preimport=preimport))
    res = _run(script, str(CMU), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    dims, user = res.stdout.strip().splitlines()
    assert dims == "[32, 16, 3] True"
    # a user module imported first keeps its name; otherwise the name holds the real package
    assert user == ("user script" if preimport else "real")
