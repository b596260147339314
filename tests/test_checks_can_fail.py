"""The chapters' checks can fail: break one sign in attnlib and a chapter stops; change a
stored output, or a number in attnlib, and the notebook checks of ``make test`` fail.

Each case runs a chapter notebook from a clean kernel after a first cell that
replaces ``attnlib.backward`` with a version whose one field has its sign
flipped. The chapter must then stop with an ``AssertionError`` in a check cell,
which is what makes ``make test`` (nbval) and the book fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from tools import nbval

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

SABOTAGE = """
import dataclasses
import attnlib
import attnlib.head.gradients
import attnlib.dynamics.toy

_honest_backward = attnlib.head.gradients.backward

def _broken_backward(*args, **kwargs):
    grads = _honest_backward(*args, **kwargs)
    return dataclasses.replace(grads, {field}=-getattr(grads, "{field}"))

# Replace it wherever attnlib's modules hold a reference to it.
import sys
for _module in list(sys.modules.values()):
    if getattr(_module, "__name__", "").startswith("attnlib") and getattr(_module, "backward", None) is _honest_backward:
        _module.backward = _broken_backward
"""


@pytest.mark.parametrize(
    "chapter, field",
    [
        ("03_routing_law", "scores"),  # the routing law's sign
        ("04_value_updates", "values"),  # the value law's sign
        ("05_full_backward", "W_Q"),  # one weight gradient
        ("06_toy_feedback_loop", "values"),  # the value law, during training
    ],
)
def test_a_flipped_sign_stops_the_chapter(chapter, field):
    nb = nbformat.read(NOTEBOOKS / f"{chapter}.ipynb", as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(SABOTAGE.format(field=field)))
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}})
    with pytest.raises(CellExecutionError) as excinfo:
        client.execute()
    assert "AssertionError" in str(excinfo.value), str(excinfo.value)[-2000:]


LAYER_NORM_SABOTAGE = """
import attnlib.dynamics.variants
import attnlib.dynamics.variants.layer_norm

_honest_layer_norm_backward = attnlib.dynamics.variants.layer_norm_backward

def _broken_layer_norm_backward(*args, **kwargs):
    return -_honest_layer_norm_backward(*args, **kwargs)

attnlib.dynamics.variants.layer_norm_backward = _broken_layer_norm_backward
attnlib.dynamics.variants.layer_norm.layer_norm_backward = _broken_layer_norm_backward
"""


def test_a_flipped_layer_norm_backward_stops_chapter_10():
    """Chapter 10's LayerNorm derivation (eq. beyond-ln-backward) is checked, so a wrong sign stops it.

    The grid cells (``run_sweep``, ``first_step_gain``) are left out: they take a
    minute and the LayerNorm checks do not use their results.
    """
    nb = nbformat.read(NOTEBOOKS / "10_beyond_single_head.ipynb", as_version=4)
    slow = ("run_sweep(", "first_step_gain(", "sweep_seconds")  # the grid, and its timing
    nb.cells = [nbformat.v4.new_code_cell(LAYER_NORM_SABOTAGE)] + [
        c for c in nb.cells if not (c.cell_type == "code" and any(s in c.source for s in slow))
    ]
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}})
    with pytest.raises(CellExecutionError) as excinfo:
        client.execute()
    message = str(excinfo.value)
    assert "AssertionError" in message and "LayerNorm" in message, message[-2000:]


# --------------------------------------------------------------------------- the text checks
# ``make notebooks-test`` runs nbval through tools/nbval.py (generic floating-point kernels,
# the tolerance plugin). These two tests run that same command on chapter 1 with one thing
# planted, and require it to fail: a stored output changed, and a wrong number in attnlib.

PLANTED_OUTPUT = "L = -log p_y = 1.4644"


def _run_nbval(notebook, extra_pythonpath=None):
    env = nbval.environment()
    if extra_pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra_pythonpath), env.get("PYTHONPATH")]))
    return subprocess.run(nbval.command([str(notebook)]), env=env, cwd=nbval.ROOT, capture_output=True, text=True)


def test_a_changed_printed_result_fails_the_notebook_checks(tmp_path):
    nb = json.loads((NOTEBOOKS / "01_cross_entropy.ipynb").read_text())
    planted = 0
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            text = "".join(out.get("text", []))
            if PLANTED_OUTPUT in text:
                out["text"] = text.replace(PLANTED_OUTPUT, "L = -log p_y = 1.4654")
                planted += 1
    assert planted == 1, f"chapter 1 no longer prints {PLANTED_OUTPUT!r}: update this test"
    copy = tmp_path / "01_cross_entropy.ipynb"
    copy.write_text(json.dumps(nb))
    proc = _run_nbval(copy)
    assert proc.returncode != 0, "nbval passed a notebook whose stored output was changed"
    assert "1 failed" in proc.stdout and "Cell outputs differ" in proc.stdout, proc.stdout[-3000:]
    assert "1.4654" in proc.stdout and "1.4644" in proc.stdout, proc.stdout[-3000:]


def test_a_wrong_number_in_attnlib_fails_the_notebook_checks(tmp_path):
    """A copy of attnlib whose loss and its gradient are both 0.03% too large.

    The two stay consistent, so the worked example's own gradient check (chapter 1, cell 5)
    passes; what stops it is the text: its printed loss reads 1.4648 instead of 1.4644.
    (Other cells, which compare with torch, fail on their asserts.)
    """
    package = tmp_path / "attnlib"
    shutil.copytree(NOTEBOOKS.parent / "attnlib", package, ignore=shutil.ignore_patterns("__pycache__"))
    source = package / "head" / "softmax.py"
    text = source.read_text()
    for honest in ("    return float(np.mean(logsumexp(z2) - z2[rows, labels]))",
                   "    return grad.reshape(np.shape(z))"):  # fmt: skip
        assert text.count(honest) == 1, f"attnlib.head.softmax changed ({honest.strip()!r}): update this test"
        text = text.replace(honest, honest.replace("return ", "return 1.0003 * "))
    source.write_text(text)
    proc = _run_nbval(NOTEBOOKS / "01_cross_entropy.ipynb", extra_pythonpath=tmp_path)
    out = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout)
    assert proc.returncode != 0, "nbval passed chapter 1 with a cross-entropy 0.03% too large"
    assert "Cell 5: Cell outputs differ" in out and "1.4648" in out, out[-3000:]
