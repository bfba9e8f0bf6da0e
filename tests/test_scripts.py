"""``scripts/bootstrap.sh``: the environment set-up behind the README's two commands."""

import os
import subprocess
from pathlib import Path

import pytest

BOOTSTRAP = Path(__file__).resolve().parents[1] / 'scripts' / 'bootstrap.sh'

#: Stands in for a fresh venv's interpreter: torch is missing, pip "succeeds" and
#: every call is logged, so the test sees what bootstrap would have installed.
FAKE_PYTHON = """#!/bin/sh
echo "$*" >> "$(dirname "$0")/calls.log"
case "$*" in
    *"import torch"*) exit 1 ;;
esac
exit 0
"""


def fake_venv(tmp_path: Path) -> Path:
    venv = tmp_path / 'venv'
    python = venv / 'bin' / 'python'
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    return venv


def bootstrap(venv: Path, min_free_gib: int) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        'GEOSSL_VENV': str(venv),
        'GEOSSL_MIN_FREE_GIB': str(min_free_gib),
    }
    return subprocess.run(
        ['bash', str(BOOTSTRAP)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_too_little_disk_space_stops_before_pip(tmp_path: Path) -> None:
    venv = fake_venv(tmp_path)
    result = bootstrap(venv, min_free_gib=10**9)
    assert result.returncode == 1
    assert f'into {venv} needs about 1000000000 GiB free' in result.stderr
    assert 'MiB free; free some space or set GEOSSL_VENV' in result.stderr
    calls = (venv / 'bin' / 'calls.log').read_text()
    assert 'torch==2.14.1' not in calls
    assert not (venv / '.geossl-stamp').exists()


@pytest.mark.parametrize('min_free_gib', [0, 1])
def test_enough_disk_space_installs(tmp_path: Path, min_free_gib: int) -> None:
    venv = fake_venv(tmp_path)
    result = bootstrap(venv, min_free_gib=min_free_gib)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(venv)
    calls = (venv / 'bin' / 'calls.log').read_text()
    assert 'pip install torch==2.14.1 torchvision==0.29.1' in calls
    assert 'pip install -e' in calls
    assert (venv / '.geossl-stamp').exists()
