"""Start Lotse processes for end-to-end tests, wait until they answer, kill them hard."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from tests.conftest import REPO, wait_until


def lotse(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    """Run `python -m services.cli <args>` with its output in a log file."""
    handle = open(log, "ab")
    return subprocess.Popen([sys.executable, "-m", "services.cli", *args], cwd=REPO,
                            env={**os.environ, **env}, stdout=handle, stderr=subprocess.STDOUT)


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def wait_ready(url: str, proc: subprocess.Popen | None = None, timeout: float = 60) -> None:
    def ready():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} before {url} answered")
        return answers(url)
    wait_until(ready, timeout=timeout, interval=0.2, message=url)


def kill_hard(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
