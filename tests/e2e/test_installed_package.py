"""Lotse as an operator installs it: the wheel built from the sources the image builds from,
installed into a fresh virtualenv outside the repository, run from an empty directory (no
checkout on the path): `lotse migrate`, `lotse run --demo` and the README's smoke request."""
from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import OLENA, REPO, free_port
from tests.e2e.client import LotseClient
from tests.e2e.processes import stop, wait_ready

pytestmark = pytest.mark.e2e

# what the Dockerfile's build stage copies, and so all a wheel may be built from
SOURCES = ("pyproject.toml", "README.md", "services", "shared")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")


def run(argv: list, **kwargs) -> str:
    """Run a command to its end; fail with its output if it fails."""
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, (f"{' '.join(map(str, argv))} exited {done.returncode}:\n"
                                  f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """(the wheel, the source copy it was built from): built from a copy, so the build's
    own files (build/, *.egg-info) never land in the shared checkout."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=IGNORED)
        else:
            shutil.copy2(REPO / name, source / name)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", work / "dist",
         source], cwd=work, timeout=600)
    [wheel] = (work / "dist").glob("lotse-*.whl")
    return wheel, source


def test_the_wheel_holds_every_file_of_services_and_shared(built):
    wheel, source = built
    shipped = set(zipfile.ZipFile(wheel).namelist())
    files = {p.relative_to(source).as_posix() for package in ("services", "shared")
             for p in (source / package).rglob("*") if p.is_file()}
    assert files - shipped == set(), "add them to [tool.setuptools.package-data]"
    assert {"shared/defaults/partners.json", "shared/defaults/retention.json",
            "shared/defaults/processing.json",
            "shared/defaults/schemas/jobcenter-handover-v1.schema.json",
            "services/intake/migrations/env.py", "services/intake/migrations/script.py.mako",
            "shared/translations/de/LC_MESSAGES/messages.mo",
            "shared/templates/layout.html"} <= shipped


@pytest.mark.timeout(900)
def test_installed_lotse_migrates_runs_and_refers_the_smoke_intake(built, tmp_path):
    wheel, _ = built
    venv, empty = tmp_path / "venv", tmp_path / "empty"
    empty.mkdir()
    bin_dir = venv / "bin"
    # nothing of this checkout or of the machine's Lotse settings (make test exports
    # LOTSE_DATA_DIR=<repo>/var): only what an operator's shell would have
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LOTSE_") and k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    run([sys.executable, "-m", "venv", venv], cwd=empty, env=env, timeout=300)
    run([bin_dir / "python", "-m", "pip", "install", "--quiet", wheel], cwd=empty, env=env,
        timeout=600)

    where = run([bin_dir / "python", "-c", "import services, shared; "
                 "print(services.__file__); print(shared.__file__)"], cwd=empty, env=env)
    for module_file in where.split():
        assert Path(module_file).resolve().is_relative_to(venv.resolve()), where

    run([bin_dir / "lotse", "migrate"], cwd=empty, env=env, timeout=300)
    assert "City of Dortmund" in run([bin_dir / "lotse", "record-of-processing"], cwd=empty,
                                     env=env, timeout=120)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "lotse-run.log"
    with open(log, "wb") as handle:
        proc = subprocess.Popen(
            [bin_dir / "lotse", "run", "--demo"], cwd=empty, stdout=handle,
            stderr=subprocess.STDOUT,
            env={**env, "PORT": str(port), "LOTSE_SANDBOX_AUTO_ACCEPT": "0.5",
                 "LOTSE_PARTNER_POLL_SECONDS": "0.5", "LOTSE_LOG_FORMAT": "text"})
    try:
        wait_ready(f"{base}/healthz", proc, timeout=180)
        client = LotseClient(base)
        intake = client.post_intake(copy.deepcopy(OLENA))
        referrals = client.wait_referred(intake["id"], 3, timeout=120)
    except BaseException:
        stop(proc)
        print(log.read_text(errors="replace")[-6000:])
        raise
    stop(proc)
    assert {r["partner"] for r in referrals} == {"registration", "jobcenter", "welfare"}
    for referral in referrals:
        assert referral["status"] in ("received", "accepted"), referral
        assert referral["partner_case_ref"], referral
    assert proc.returncode == 0, log.read_text(errors="replace")[-6000:]
    assert (empty / "var").is_dir()  # LOTSE_DATA_DIR's default: the working directory's var/
