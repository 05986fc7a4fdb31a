"""Static checks that catch real mistakes: undefined names, unused imports, syntax errors (ruff's pyflakes rules)."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_pyflakes_rules_pass_on_the_whole_tree():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is a dev dependency (pip install -e '.[dev]')"
    result = subprocess.run([ruff, "check", "--no-cache", "--select", "F,E9", "--line-length", "120",
                             "lims", "instruments", "tests", "bench", "migrations"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:]
