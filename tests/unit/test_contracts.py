"""Architecture contracts: layers in one direction, the domain headless, no import circles."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_linter_contracts_hold_the_layers_and_keep_textual_in_the_ui():
    lint = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Layers: cli above ui above actions above the domain KEPT" in proc.stdout
    assert "Only the UI layer imports Textual" in proc.stdout
    assert "3 kept, 0 broken" in proc.stdout


def test_headless_status_path_never_loads_textual():
    code = (
        "import sys, cli.main, console.monitor, console.status.engine, console.export,"
        " console.render_text\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('textual', 'ui', 'kubernetes', 'temporalio'))\n"
        "print(','.join(bad))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"loaded eagerly: {proc.stdout}"


def test_no_module_imports_itself_in_a_circle():
    """Every import counted, also those inside functions and under TYPE_CHECKING (the
    README's module graph comes from the same script)."""
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "module_graph.py")],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "module circles: 0" in proc.stdout, proc.stdout
