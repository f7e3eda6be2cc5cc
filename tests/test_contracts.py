"""Architecture contracts: the domain runs headless, without Textual."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_linter_contract_keeps_textual_out_of_the_domain():
    lint = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Domain code runs headless" in proc.stdout
    assert "1 kept, 0 broken" in proc.stdout


def test_headless_status_path_never_loads_textual():
    code = (
        "import sys, console.cli, console.monitor, console.status, console.export,"
        " console.render_text\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('textual', 'screens', 'widgets', 'kubernetes', 'temporalio'))\n"
        "print(','.join(bad))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"loaded eagerly: {proc.stdout}"
