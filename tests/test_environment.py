"""The lock, pyproject.toml's ranges and Binder's environment.yml agree."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _lock() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "requirements/lock.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, version = line.partition("==")
        assert version, f"lock line is not an exact pin: {line!r}"
        pins[canonicalize_name(name)] = Version(version)
    return pins


def _pyproject_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs.extend(extra)
    return [Requirement(r) for r in reqs]


def test_every_pyproject_requirement_is_locked_within_its_range():
    lock = _lock()
    for req in _pyproject_requirements():
        name = canonicalize_name(req.name)
        assert name in lock, f"{req.name} is required by pyproject.toml but missing from the lock"
        assert req.specifier.contains(lock[name], prereleases=True), f"lock pins {name}=={lock[name]}, outside {req}"


def test_torch_is_the_pinned_cpu_build():
    assert _lock()["torch"] == Version("2.13.0")
    assert not any(name.startswith("nvidia") for name in _lock()), "a CUDA package slipped into the lock"


def test_make_installs_torch_from_the_cpu_index_at_the_locked_version():
    """One pin (the lock's); the Makefile reads it and names PyTorch's CPU index, with a fallback."""
    makefile = (ROOT / "Makefile").read_text()
    assert "TORCH_INDEX ?= https://download.pytorch.org/whl/cpu" in makefile
    assert "--index-url $(TORCH_INDEX) \"$$(grep -E '^torch==' requirements/lock.txt)\"" in makefile
    assert "it comes from pip's default index instead" in makefile, "an unreachable CPU index must not stop the install"
    assert not re.search(r"torch==\d", makefile), "the Makefile must not pin torch itself"


def test_environment_yml_pins_equal_the_lock():
    lock = _lock()
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s*-\s*python=3\.11\s*$", text, re.M), "Binder must use Python 3.11"
    pins = re.findall(r"^\s*-\s*([A-Za-z0-9_.\-]+)==([^\s#]+)\s*$", text, re.M)
    assert pins, "environment.yml lists no pinned pip packages"
    for name, version in pins:
        locked = lock.get(canonicalize_name(name))
        assert locked is not None, f"environment.yml pins {name}, which the lock does not have"
        assert Version(version).public == locked.public, f"environment.yml pins {name}=={version}, the lock {locked}"
    pinned = {canonicalize_name(n) for n, _ in pins}
    for dep in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        assert canonicalize_name(Requirement(dep).name) in pinned, f"environment.yml does not install {dep}"


@pytest.mark.parametrize("path", ["Makefile", ".ci/run", "postBuild", "requirements/lock.txt", "environment.yml"])
def test_setup_files_exist(path):
    assert (ROOT / path).is_file()


def _check_python(python: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-s", f"PYTHON={python}", "check-python"], cwd=ROOT, capture_output=True, text=True)


def test_make_names_the_supported_versions_for_a_python_that_does_not_run(tmp_path):
    proc = _check_python(str(tmp_path / "python3.10"))
    assert proc.returncode != 0
    assert "does not run; the book supports Python 3.11, 3.12 and 3.13" in proc.stderr, proc.stderr


def test_make_names_the_supported_versions_for_an_old_python(tmp_path):
    """A stand-in interpreter that reports 3.10 (a real one may not be on the machine)."""
    fake = tmp_path / "python3.10"
    fake.write_text(
        "#!/bin/sh\nexec " + sys.executable + ' -c "import sys; sys.version_info = (3, 10, 0); '
        'exec(sys.argv[-1])" "$2"\n'
    )
    fake.chmod(0o755)
    proc = _check_python(str(fake))
    assert proc.returncode != 0
    assert "the book supports Python 3.11, 3.12 and 3.13" in proc.stderr and "is 3.10" in proc.stderr, proc.stderr
