"""Every package of the project is installed: a process started outside the repository (beat and the
workers run with their own working directory) imports it from the install, not from the current folder."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_is_in_the_install_list():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = sorted(p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name != "tests")
    missing = [p for p in packages if not any(fnmatch(p, pattern) for pattern in patterns)]
    assert not missing, f"add to [tool.setuptools.packages.find] include in pyproject.toml: {missing}"
    # and each package's data files (Lua scripts) ship with it
    data = config["tool"]["setuptools"]["package-data"]
    for package in packages:
        if list((ROOT / package).glob("*.lua")):
            assert "*.lua" in data.get(package, []), package
