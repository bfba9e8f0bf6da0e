"""Tests of benchmarks/machine.py: what a benchmark records about its code."""

import subprocess
from pathlib import Path

from conftest import import_benchmark


def git(repo: Path, *args: str) -> None:
    subprocess.run(['git', '-C', str(repo), *args], check=True, capture_output=True)


def test_describe_code_names_the_commit_and_the_modified_files(tmp_path: Path) -> None:
    machine = import_benchmark('machine')
    repo = tmp_path / 'repo'
    package = repo / 'torchgeo_geossl'
    package.mkdir(parents=True)
    (package / 'a.py').write_text('x = 1\n')
    (repo / 'notes.txt').write_text('outside the measured folders\n')
    git(repo, 'init', '-q')
    git(repo, 'add', '.')
    git(repo, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'a')
    clean = machine.describe_code(repo, package)
    assert clean['from_checkout'] is True
    assert clean['modified'] == []
    assert len(clean['commit']) == 40
    # a modified tracked file (status ' M'), a new one ('??'), and one outside
    (package / 'a.py').write_text('x = 2\n')
    (package / 'b.py').write_text('y = 1\n')
    (repo / 'notes.txt').write_text('changed\n')
    described = machine.describe_code(repo, package)
    assert described['modified'] == ['torchgeo_geossl/a.py', 'torchgeo_geossl/b.py']
    assert described['commit'] == clean['commit']
    other = machine.describe_code(repo, tmp_path / 'site-packages' / 'torchgeo_geossl')
    assert other['from_checkout'] is False


def test_describe_code_outside_git_says_it_cannot_tell(tmp_path: Path) -> None:
    machine = import_benchmark('machine')
    described = machine.describe_code(tmp_path, tmp_path / 'torchgeo_geossl')
    assert described['commit'] is None
    assert described['modified'] is None
