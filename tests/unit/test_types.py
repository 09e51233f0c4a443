"""mypy --strict over the modules pyproject.toml's [tool.mypy] lists (issue 18): a type error
in one of them fails `make test`, with mypy's report as the message."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from mypy import api

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"


def test_the_listed_modules_pass_mypy_strict(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["mypy"]
    assert config["strict"] is True and config["files"], "[tool.mypy] lists no strict files"
    monkeypatch.chdir(ROOT)  # the listed paths are relative to the repository
    # a cache of this run's own: no state shared with other runs, cold in ~10 s
    report, errors, status = api.run(["--config-file", str(PYPROJECT),
                                      "--cache-dir", str(tmp_path / "mypy_cache")])
    assert status == 0, f"mypy --strict found errors:\n{report}{errors}"
    assert f"in {len(config['files'])} source files" in report, report
