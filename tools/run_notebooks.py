"""Execute chapter notebooks from a clean kernel and store their outputs.

Usage: python tools/run_notebooks.py [notebooks/NAME.ipynb ...]   (default: all)

For each pair it first runs ``jupytext --sync`` (the newer of NAME.md and
NAME.ipynb is the source), then executes NAME.ipynb top to bottom in a fresh
kernel with the notebook's folder as working directory, writes the outputs
without timing metadata (so re-running changes nothing that is not real), records
the hashes of the code the outputs came from (``tools/provenance.py``), and syncs
the text twin again. The install cell is rewritten from ``_config.yml`` first
(``tools/install_cell.py``). ``make notebooks`` calls it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools import install_cell, provenance  # noqa: E402


def run(path: Path) -> float:
    subprocess.run([sys.executable, "-m", "jupytext", "--sync", "--quiet", str(path)], check=True)
    nb = nbformat.read(path, as_version=4)
    cell = install_cell.install_cell(nb)
    if cell is None:
        raise SystemExit(f"run_notebooks: {path.name}: the first code cell is not tagged {install_cell.TAG}")
    cell.source = install_cell.install_source()
    start = time.perf_counter()
    NotebookClient(
        nb,
        timeout=900,
        kernel_name="python3",
        record_timing=False,
        store_widget_state=False,  # explorers need a live kernel; the saved state would only add bytes
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    nb.metadata.pop("widgets", None)
    seconds = time.perf_counter() - start
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    provenance.stamp(nb)
    nbformat.write(nb, path)
    subprocess.run([sys.executable, "-m", "jupytext", "--sync", "--quiet", str(path)], check=True)
    return seconds


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in paths:
        if path.suffix != ".ipynb" or not path.exists():
            print(f"run_notebooks: expected an existing .ipynb file, got {path}", file=sys.stderr)
            return 2
        print(f"{path.name}: executed in {run(path):.1f} s")
    # The Colab copies (colab/) are written from the notebooks: keep them in step.
    subprocess.run([sys.executable, str(ROOT / "tools" / "colab_notebooks.py"), *map(str, paths)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
