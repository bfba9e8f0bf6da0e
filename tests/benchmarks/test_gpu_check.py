"""Tests of benchmarks/gpu_check.sh without a GPU: refusal, commands, time budget."""

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from conftest import BENCHMARKS, import_benchmark

SCRIPT = BENCHMARKS / 'gpu_check.sh'

#: Stands in for the interpreter: "CUDA is available", every call is logged.
FAKE_PYTHON = """#!/bin/sh
echo "$*" >> "$(dirname "$0")/calls.log"
exit 0
"""


def run(*args: str, python: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if python is not None:
        env['PYTHON'] = str(python)
    return subprocess.run(
        ['bash', str(SCRIPT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason='this machine has CUDA')
def test_refuses_to_run_without_cuda() -> None:
    result = run()
    assert result.returncode == 2
    assert 'CUDA is not available' in result.stderr
    assert '--dry-run' in result.stderr


def test_unknown_option() -> None:
    result = run('--gpu')
    assert result.returncode == 2
    assert "unknown option '--gpu'" in result.stderr


def fake_checkout(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the script beside a loader.py, and a fake interpreter."""
    repo = tmp_path / 'repo'
    (repo / 'benchmarks').mkdir(parents=True)
    shutil.copy(SCRIPT, repo / 'benchmarks' / 'gpu_check.sh')
    (repo / 'benchmarks' / 'loader.py').write_text('')
    python = tmp_path / 'bin' / 'python'
    python.parent.mkdir()
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    return repo, python


def test_commands_and_time_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, python = fake_checkout(tmp_path)
    out = tmp_path / 'out'
    env = dict(os.environ, PYTHON=str(python))
    result = subprocess.run(
        ['bash', str(repo / 'benchmarks' / 'gpu_check.sh'), '--out', str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    limits = [int(s) for s in re.findall(r'\(limit (\d+) s\)', result.stdout)]
    assert len(limits) == 5
    assert sum(limits) <= 8 * 60 - 15  # 8 minutes with time for start-up
    summary = (out / 'summary.txt').read_text()
    for name in ('tests', 'step-fp32', 'step-bf16', 'augment', 'loader'):
        assert f'{name}: ok' in summary
    calls = (python.parent / 'calls.log').read_text().splitlines()
    assert any('-m pytest' in c and '-m cuda' in c for c in calls)
    steps = [shlex.split(c) for c in calls if 'train_step.py' in c]
    assert len(steps) == 2
    assert '--precision' in steps[1]
    assert '--channels-last' in steps[1]
    # the options are valid for train_step.py's own parser
    train_step = import_benchmark('train_step')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    for step in steps:
        args = train_step.parse(step[1:])
        assert (args.model, args.size, args.device) == ('resnet50', 224, 'cuda')
    assert any('augmentation.py --device cuda' in c for c in calls)
    loader = [c for c in calls if 'loader.py' in c]
    assert loader == [
        f'benchmarks/loader.py --sizes 224 --workers 16 --out {out}/loader'
    ]


def test_stops_before_any_part_without_loader(tmp_path: Path) -> None:
    repo, python = fake_checkout(tmp_path)
    (repo / 'benchmarks' / 'loader.py').unlink()
    result = subprocess.run(
        ['bash', str(repo / 'benchmarks' / 'gpu_check.sh')],
        env=dict(os.environ, PYTHON=str(python)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert 'loader.py is missing' in result.stderr
    calls = (python.parent / 'calls.log').read_text().splitlines()
    assert len(calls) == 1  # only the CUDA check


def test_a_failing_part_is_reported_and_the_others_run(tmp_path: Path) -> None:
    repo, python = fake_checkout(tmp_path)
    python.write_text(
        FAKE_PYTHON.replace(
            'exit 0', 'case "$*" in *augmentation*) exit 3 ;; esac\nexit 0'
        )
    )
    out = tmp_path / 'out'
    result = subprocess.run(
        ['bash', str(repo / 'benchmarks' / 'gpu_check.sh'), '--out', str(out)],
        env=dict(os.environ, PYTHON=str(python)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    summary = (out / 'summary.txt').read_text()
    assert 'augment: FAILED (exit status 3)' in summary
    assert 'loader: ok' in summary
