"""Tests of benchmarks/pretrain_probe.py: bad input, its helpers and a quick run."""

import importlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
import torch
from torch import nn

BENCHMARKS = Path(__file__).resolve().parents[2] / 'benchmarks'
SCRIPT = BENCHMARKS / 'pretrain_probe.py'
#: Set so that the script does not re-execute itself to set it.
ENV = os.environ | {'OMP_WAIT_POLICY': 'PASSIVE'}


@pytest.fixture(scope='module')
def probe() -> ModuleType:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module('pretrain_probe')
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_missing_data_root_exits_with_one_line(tmp_path: Path) -> None:
    missing = tmp_path / 'no-such-folder'
    result = subprocess.run(
        [sys.executable, str(SCRIPT), '--quick', '--data-root', str(missing)],
        check=False,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith('pretrain_probe.py: error: data root')
    assert str(missing) in lines[0]
    assert '--data-root' in lines[0]
    assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize(
    ('tracks', 'missing'),
    [
        ('oscd-rgb', 'eurosat-rgb-small/labels.csv'),
        ('landsat', 'landsat-timeseries-colorado'),
        ('oscd-13', 'oscd-s2-bitemporal/aguasclaras/dates.txt'),
    ],
)
def test_missing_data_folder_is_named(
    probe: ModuleType,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    tracks: str,
    missing: str,
) -> None:
    # Everything but the one missing path.
    (tmp_path / 'eurosat-rgb-small').mkdir()
    (tmp_path / 'landsat-timeseries-colorado').mkdir()
    for city in (*probe.TRAIN_CITIES, *probe.HELD_OUT_CITIES):
        (tmp_path / 'oscd-s2-bitemporal' / city).mkdir(parents=True)
        (tmp_path / 'oscd-s2-bitemporal' / city / 'dates.txt').write_text('')
    (tmp_path / 'eurosat-rgb-small' / 'labels.csv').write_text('filename,label\n')
    target = tmp_path / missing
    if target.is_dir():
        target.rmdir()
    else:
        target.unlink()
    out = tmp_path / 'out'
    status = probe.main(
        ['--quick', '--tracks', tracks, '--data-root', str(tmp_path), '--out', str(out)]
    )
    assert status == 2
    assert not out.exists()
    err = capsys.readouterr().err.strip()
    assert err == (
        f'pretrain_probe.py: error: {target} not found in data root {tmp_path} '
        '(pass --data-root DIR, the folder holding the shared real data)'
    )


def test_bad_options_are_rejected(
    probe: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        probe.parse(['--tracks', 'oscd-rgb,sentinel'])
    assert info.value.code == 2
    assert "--tracks: unknown ['sentinel']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        probe.parse(['--seeds', '1'])
    assert '--seeds must be at least 2' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        probe.parse(['--retrieval-patch-size', '0'])
    assert '--retrieval-patch-size must be positive' in capsys.readouterr().err


def test_landsat_track_left_out_for_large_patches(
    probe: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    args = probe.parse(['--patch-size', '64'])
    assert args.tracks == ['oscd-rgb', 'oscd-13']
    assert '[skip] landsat: --patch-size 64' in capsys.readouterr().err
    assert probe.parse(['--patch-size', '40']).tracks[-1] == 'landsat'


def test_retrieval_counts_matches_both_ways(probe: ModuleType) -> None:
    first = torch.eye(4)
    # Location 3 at the later date looks like location 2 at the earlier date.
    second = torch.eye(4)
    second[3] = torch.tensor([0.0, 0.0, 1.0, 0.1])
    found = probe.retrieval(first, second)
    # Every earlier patch is closest to its own later patch...
    assert found['earlier_to_later'] == 1.0
    # ...but later patch 3 is closer to earlier patch 2 (0.995) than to its own (0.1).
    assert found['later_to_earlier'] == 0.75
    assert found['mean'] == 0.875
    assert found['chance'] == 0.25


def test_with_channels_keeps_the_rgb_filters(probe: ModuleType) -> None:
    torch.manual_seed(0)
    backbone = nn.Sequential()
    backbone.conv1 = nn.Conv2d(13, 8, 7, stride=2, padding=3, bias=False)
    channels = probe.TRACKS['oscd-13'].eurosat_channels
    rgb = probe.with_channels(backbone, channels)
    assert rgb.conv1.in_channels == 3
    assert (rgb.conv1.stride, rgb.conv1.padding) == ((2, 2), (3, 3))
    # EuroSAT R, G, B read the filters of B04, B03, B02 (band indices 3, 2, 1).
    torch.testing.assert_close(rgb.conv1.weight, backbone.conv1.weight[:, [3, 2, 1]])
    assert backbone.conv1.in_channels == 13
    assert probe.with_channels(backbone, (0, 1, 2)) is backbone


def test_linear_probe_separable_and_random(probe: ModuleType) -> None:
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(10).repeat(10)
    centres = torch.randn(10, 16, generator=generator) * 10
    train = centres[labels] + torch.randn(100, 16, generator=generator)
    test = centres[labels] + torch.randn(100, 16, generator=generator)
    assert probe.linear_probe(train, labels, test, labels, 2) == [1.0, 1.0]
    noise = torch.randn(100, 16, generator=generator)
    accuracies = probe.linear_probe(noise, labels, test, labels, 3)
    assert len(accuracies) == 3
    assert max(accuracies) < 0.5


def test_oscd_dates_come_from_dates_txt(probe: ModuleType, shared_data: Path) -> None:
    dataset = probe.oscd(shared_data, ('norcia',), probe.OSCD_RGB)
    starts = sorted(dataset.index.index.left)
    # The imgs_1 file names say 2016-08-11 (processing); dates.txt says 2015-07-11.
    assert starts == [pd.Timestamp('2015-07-11'), pd.Timestamp('2017-10-18')]
    assert dataset.res == (probe.OSCD_RES, probe.OSCD_RES)


@pytest.mark.slow
def test_quick_run_reports_every_method(shared_data: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            '--quick',
            '--data-root',
            str(shared_data),
            '--out',
            str(tmp_path),
        ],
        check=False,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    payload = json.loads((tmp_path / 'pretrain_probe.json').read_text())
    assert (tmp_path / 'pretrain_probe.png').stat().st_size > 0
    report = (tmp_path / 'pretrain_probe.md').read_text()
    assert '--quick' in payload['command']
    assert payload['machine']['versions']['torchgeo']
    assert payload['config']['quick'] is True
    assert payload['eurosat']['train'] == payload['eurosat']['test'] == 100
    methods = {
        'random-init',
        'torchgeo-moco-v2',
        'torchgeo-simclr',
        'gassl-moco-v2',
        'gassl-geo',
        'gassl-tp',
        'gassl-tp-geo',
        'seco',
    }
    assert set(payload['tracks']) == {'oscd-rgb', 'oscd-13', 'landsat'}
    for name, track in payload['tracks'].items():
        assert set(track['methods']) == methods
        assert track['same_initialisation'] is True
        assert track['retrieval_set']['locations'] == 24
        assert track['retrieval_set']['patch_px'] == 32
        assert track['pool']['samples'] == 48
        assert f'## {name}:' in report
        for method, row in track['methods'].items():
            if method == 'seco' and name != 'landsat':
                assert 'needs 3 acquisitions' in row['skipped']
                continue
            probe_row = row['probe']
            assert len(probe_row['per_seed']) == 2
            assert all(0 <= a <= 1 for a in probe_row['per_seed'])
            assert probe_row['mean'] == pytest.approx(sum(probe_row['per_seed']) / 2)
            found = row['retrieval']
            assert 0 <= found['earlier_to_later'] <= 1
            assert 0 <= found['later_to_earlier'] <= 1
            assert found['chance'] == pytest.approx(1 / 24)
            steps = row['pretraining']['steps']
            assert steps == (0 if method == 'random-init' else 3)
            if steps:
                assert all(math.isfinite(loss) for loss in row['pretraining']['losses'])
    landsat = payload['tracks']['landsat']
    assert landsat['pool']['scenes']['kept'] == 44
    assert landsat['pool']['views'] == 3
    assert 'probe' in landsat['methods']['seco']
