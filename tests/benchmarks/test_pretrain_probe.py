"""Tests of benchmarks/pretrain_probe.py: bad input, its helpers and a quick run."""

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest
import timm
import torch
from conftest import BENCHMARKS, import_benchmark
from kornia.augmentation import RandomResizedCrop
from torch import Tensor, nn

REPO = Path(__file__).resolve().parents[2]
SCRIPT = BENCHMARKS / 'pretrain_probe.py'
#: Set so that the script does not re-execute itself to set it.
ENV = os.environ | {'OMP_WAIT_POLICY': 'PASSIVE'}


@pytest.fixture(scope='module')
def probe() -> ModuleType:
    return import_benchmark('pretrain_probe')


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
    with pytest.raises(SystemExit):
        probe.parse(['--retrieval-shift', '-1'])
    assert '--retrieval-shift must be 0 or more' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        probe.parse(['--crop-scale', '0.5', '0.2'])
    assert '--crop-scale 0.5 0.2: need 0 < LOW <= HIGH <= 1' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        probe.parse(['--methods', 'gassl-tp,byol'])
    assert "--methods: unknown ['byol']" in capsys.readouterr().err


def test_quick_run_does_not_overwrite_the_results(
    probe: ModuleType, tmp_path: Path
) -> None:
    results = BENCHMARKS / 'results'
    assert probe.parse([]).out == results
    quick = probe.parse(['--quick']).out
    assert quick != results
    assert quick.is_dir()
    assert not any(quick.iterdir())
    quick.rmdir()
    assert probe.parse(['--quick', '--out', str(tmp_path)]).out == tmp_path


def test_methods_keep_their_order_and_crop_scale_is_shared(probe: ModuleType) -> None:
    args = probe.parse(['--methods', 'gassl-tp, raw-pixels,gassl-moco-v2'])
    assert args.methods == ['raw-pixels', 'gassl-moco-v2', 'gassl-tp']
    assert args.crop_scale == (0.2, 1.0)
    track = probe.TRACKS['oscd-rgb']
    # With and without temporal positives: the same crop scale.
    for method in ('gassl-moco-v2', 'gassl-tp'):
        task, _ = probe.build_task(method, track, args, None)
        crops = [
            m for m in task.augmentation.modules() if isinstance(m, RandomResizedCrop)
        ]
        assert crops
        assert all('scale=(0.2, 1.0)' in repr(c) for c in crops)


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
    found = probe.retrieval_correct(first, second)
    # Every earlier patch is closest to its own later patch...
    assert found[0].tolist() == [True, True, True, True]
    # ...but later patch 3 is closer to earlier patch 2 (0.995) than to its own (0.1).
    assert found[1].tolist() == [True, True, True, False]


def test_shifted_crops_take_each_date_at_its_own_offset(probe: ModuleType) -> None:
    # Cells whose pixel values encode (location, row, column).
    n, cell, size = 6, 12, 8
    rows = torch.arange(cell).reshape(1, 1, cell, 1).expand(n, 1, cell, cell)
    cols = torch.arange(cell).reshape(1, 1, 1, cell).expand(n, 1, cell, cell)
    where = torch.arange(n).reshape(n, 1, 1, 1).expand(n, 1, cell, cell)
    first = torch.cat([where, rows, cols], dim=1).float()
    second = first + 1000
    views = probe.crop_views(first, second, size, seed=3)
    early, late = views['retrieval']
    assert early.shape == late.shape == (n, 3, size, size)
    offsets = []
    for i in range(n):
        for crop, base in ((early[i], 0), (late[i], 1000)):
            y, x = int(crop[1, 0, 0]) - base, int(crop[2, 0, 0]) - base
            assert 0 <= y <= cell - size
            assert 0 <= x <= cell - size
            torch.testing.assert_close(
                crop, first[i, :, y : y + size, x : x + size] + base
            )
            offsets.append((y, x))
    # The two dates are not co-registered: offsets differ somewhere.
    assert offsets[0::2] != offsets[1::2]
    aligned_early, aligned_late = views['retrieval_aligned']
    centre = (cell - size) // 2
    torch.testing.assert_close(
        aligned_early, first[:, :, centre : centre + size, centre : centre + size]
    )
    torch.testing.assert_close(aligned_late, aligned_early + 1000)


def test_raw_pixels_match_registration_not_place(probe: ModuleType) -> None:
    # White-noise places: no structure beyond the pixels themselves. Co-registered
    # crops are found by raw pixels every time; shifted crops of the same place
    # share no aligned pixels, and raw pixels find them about as often as chance.
    generator = torch.Generator().manual_seed(0)
    cells = torch.rand(40, 3, 40, 40, generator=generator)
    views = probe.crop_views(cells, cells.clone(), 32, seed=0)
    aligned = probe.retrieval_correct(
        *(v.flatten(1) for v in views['retrieval_aligned'])
    )
    shifted = probe.retrieval_correct(*(v.flatten(1) for v in views['retrieval']))
    assert aligned.mean() == 1.0
    # Same offsets on both dates happen with probability 1 / 81 per location.
    assert shifted.mean() < 0.15


def test_random_init_sees_the_whole_patch(probe: ModuleType) -> None:
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    changed = x.clone()
    # Change everything but the top-left 8 x 8 pixels.
    changed[:, :, 8:, :] = torch.rand(2, 3, 24, 32)
    changed[:, :, :8, 8:] = torch.rand(2, 3, 8, 24)
    backbone = probe.initial_backbone(3, seed=0).eval()
    with torch.no_grad():
        before, after = backbone(x), backbone(changed)
    assert (after - before).abs().max() > 0.05 * before.abs().max()
    # timm's default zero-initialises the last BatchNorm of every block: each
    # block is then an identity, and the pooled output of a 32 px patch depends
    # only on its top-left corner (what the previous random-init row measured).
    zero_init = timm.create_model('resnet18', num_classes=0).eval()
    with torch.no_grad():
        torch.testing.assert_close(zero_init(changed), zero_init(x))


def test_random_init_batchnorm_is_calibrated_without_training(
    probe: ModuleType,
) -> None:
    backbone = probe.initial_backbone(3, seed=1)
    weights = {
        k: v.clone()
        for k, v in backbone.state_dict().items()
        if 'running' not in k and 'num_batches' not in k
    }
    generator = torch.Generator().manual_seed(0)
    batches = [torch.randn(4, 3, 32, 32, generator=generator) * 2 + 3 for _ in range(3)]
    probe.calibrate_batchnorm(backbone, batches, torch.device('cpu'))
    assert not backbone.training
    for key, value in backbone.state_dict().items():
        if key in weights:
            torch.testing.assert_close(value, weights[key])
    # conv1 has no bias; bn1's running mean is the mean over all batches of the
    # conv1 output (cumulative average of equal-sized batches).
    with torch.no_grad():
        expected = torch.stack([backbone.conv1(b).mean(dim=(0, 2, 3)) for b in batches])
    torch.testing.assert_close(
        backbone.bn1.running_mean, expected.mean(dim=0), rtol=1e-4, atol=1e-5
    )


def test_with_channels_rescales_the_rgb_filters(probe: ModuleType) -> None:
    torch.manual_seed(0)
    backbone = nn.Sequential()
    backbone.conv1 = nn.Conv2d(13, 8, 7, stride=2, padding=3, bias=False)
    channels = probe.TRACKS['oscd-13'].eurosat_channels
    rgb = probe.with_channels(backbone, channels)
    assert rgb.conv1.in_channels == 3
    assert (rgb.conv1.stride, rgb.conv1.padding) == ((2, 2), (3, 3))
    # EuroSAT R, G, B read the filters of B04, B03, B02 (band indices 3, 2, 1),
    # times 13 / 3 for the 10 bands that are not fed.
    torch.testing.assert_close(
        rgb.conv1.weight, backbone.conv1.weight[:, [3, 2, 1]] * 13 / 3
    )
    # Independent check: the response to RGB is 13/3 of the 13-band response
    # with the other bands at 0.
    image = torch.rand(1, 3, 16, 16)
    full = torch.zeros(1, 13, 16, 16)
    full[:, [3, 2, 1]] = image
    with torch.no_grad():
        torch.testing.assert_close(
            rgb.conv1(image), backbone.conv1(full) * 13 / 3, rtol=1e-5, atol=1e-5
        )
    assert backbone.conv1.in_channels == 13
    assert probe.with_channels(backbone, (0, 1, 2)) is backbone


def test_linear_probe_separable_and_random(probe: ModuleType) -> None:
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(10).repeat(10)
    centres = torch.randn(10, 16, generator=generator) * 10
    train = centres[labels] + torch.randn(100, 16, generator=generator)
    test = centres[labels] + torch.randn(100, 16, generator=generator)
    assert probe.probe_correct(train, labels, test, labels).all()
    noise = torch.randn(100, 16, generator=generator)
    assert probe.probe_correct(noise, labels, test, labels).mean() < 0.5


def test_t_interval(probe: ModuleType) -> None:
    mean, half = probe.t_interval([0.5, 0.6, 0.7])
    # t(0.975, 2) = 4.302653; sample standard deviation 0.1.
    assert mean == pytest.approx(0.6)
    assert half == pytest.approx(4.302653 * 0.1 / math.sqrt(3), rel=1e-6)
    assert probe.t_interval([0.4, 0.4])[1] == 0.0


def test_bootstrap_interval_of_an_accuracy(probe: ModuleType) -> None:
    # 400 test items, 200 right: the interval is about 0.5 ± 1.96 · 0.025.
    outcomes = np.zeros((2, 1, 400))
    outcomes[:, :, ::2] = 1
    low, high = probe.bootstrap_interval(outcomes, 4000, seed=0)
    assert low == pytest.approx(0.5 - 1.96 * 0.025, abs=0.01)
    assert high == pytest.approx(0.5 + 1.96 * 0.025, abs=0.01)
    assert probe.bootstrap_interval(np.ones((3, 2, 50)), 100, seed=0) == (1.0, 1.0)


def test_verdict_needs_every_interval(probe: ModuleType) -> None:
    assert probe.verdict('a', 'b', [(0.01, 0.2), (0.02, 0.1)]) == 'a > b'
    assert probe.verdict('a', 'b', [(-0.2, -0.01), (-0.1, -0.02)]) == 'a < b'
    unresolved = 'not resolved at this budget'
    assert probe.verdict('a', 'b', [(0.01, 0.2), (-0.01, 0.1)]) == unresolved
    assert probe.verdict('a', 'b', [(-0.2, -0.01), (-0.1, 0.02)]) == unresolved


def test_encoders_start_equal_and_get_standardised_input(
    probe: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = probe.parse(['--quick', '--steps', '1', '--batch-size', '4'])
    track = probe.TRACKS['oscd-rgb']
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(8, 2, 3, 32, 32, generator=generator)
    pool = probe.Pool(
        image=image,
        time=torch.tensor([[0.0, 1e8]]).repeat(8, 1),
        point=torch.rand(8, 2, generator=generator),
    )
    standardisation = probe.Standardisation(
        torch.tensor([0.3, 0.4, 0.5]), torch.tensor([0.1, 0.2, 0.3])
    )
    start = probe.initial_backbone(3, seed=0)
    seen: dict[str, list[Tensor]] = {'augmentation': [], 'augmented': [], 'conv1': []}
    build = probe.build_task
    built: list[Any] = []

    def recording(*options: Any) -> Any:
        task, layout = build(*options)
        task.augmentation.register_forward_pre_hook(
            lambda m, a: seen['augmentation'].append(a[0].detach().clone())
        )
        task.augmentation.register_forward_hook(
            lambda m, a, out: seen['augmented'].append(out.detach().clone())
        )
        task.model.conv1.register_forward_pre_hook(
            lambda m, a: seen['conv1'].append(a[0].detach().clone())
        )
        built.append(task)
        return task, layout

    monkeypatch.setattr(probe, 'build_task', recording)
    order = torch.arange(4).reshape(1, 4)
    probe.pretrain('gassl-tp', track, pool, order, args, None, start, standardisation)
    (task,) = built
    # Every encoder, the momentum copy included, started from the common weights
    # (the key encoder moves by 1 - m per step only).
    for encoder in probe.encoders(task):
        torch.testing.assert_close(
            encoder.conv1.weight, start.conv1.weight, rtol=0.05, atol=0.01
        )
    # The augmentation saw the [0, 1] pool images; the query encoder saw the
    # standardised augmented query views: standardisation comes last.
    (received,) = seen['augmentation']
    assert received.min() >= 0
    assert received.max() <= 1
    torch.testing.assert_close(received, image[:4])
    (augmented,) = seen['augmented']
    mean = torch.tensor([0.3, 0.4, 0.5]).reshape(1, 3, 1, 1)
    std = torch.tensor([0.1, 0.2, 0.3]).reshape(1, 3, 1, 1)
    torch.testing.assert_close(seen['conv1'][0], (augmented[:, 0] - mean) / std)
    # The hooks are gone after pretraining.
    assert all(not e._forward_pre_hooks for e in probe.encoders(task))


def test_run_environment_puts_this_checkout_first(
    probe: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    repo = str(REPO)
    # Imported from this checkout: only the missing OpenMP policy is set.
    assert probe.IMPORTED_PACKAGE == REPO / 'torchgeo_geossl'
    assert probe.run_environment({}) == {'OMP_WAIT_POLICY': 'PASSIVE'}
    assert probe.run_environment({'OMP_WAIT_POLICY': 'ACTIVE'}) == {}
    # Imported from another copy (an installed one, or another checkout's
    # editable install): the checkout goes first, the rest of the path is kept.
    other = tmp_path / 'site-packages' / 'torchgeo_geossl'
    monkeypatch.setattr(probe, 'IMPORTED_PACKAGE', other)
    policy = {'OMP_WAIT_POLICY': 'PASSIVE'}
    assert probe.run_environment(policy) == {'PYTHONPATH': repo}
    assert probe.run_environment(policy | {'PYTHONPATH': f'/a{os.pathsep}/b'}) == {
        'PYTHONPATH': os.pathsep.join([repo, '/a', '/b'])
    }
    # Already first (the copy still wins, e.g. through a .pth hook): no loop of
    # restarts; main() then warns and the JSON records the copy.
    assert probe.run_environment(policy | {'PYTHONPATH': repo}) == {}
    assert probe.describe_code()['from_checkout'] is False
    assert probe.describe_code()['package'] == str(other)


@pytest.mark.slow
def test_pretraining_and_evaluation_repeat_bitwise(probe: ModuleType) -> None:
    # The core of the benchmark, twice in one process with the same seed, on a
    # generated pool: the same losses, weights and test outcomes, bit for bit.
    args = probe.parse(
        ['--quick', '--steps', '2', '--batch-size', '4', '--queue', '16']
    )
    track = probe.TRACKS['oscd-rgb']
    generator = torch.Generator().manual_seed(0)
    pool = probe.Pool(
        image=torch.rand(8, 2, 3, 32, 32, generator=generator),
        time=torch.tensor([[0.0, 1e8]]).repeat(8, 1),
        point=torch.rand(8, 2, generator=generator),
    )
    standardisation = probe.Standardisation.of(pool.image)
    labels = torch.arange(4).repeat(2)
    eurosat = (
        torch.rand(8, 3, 32, 32, generator=generator),
        labels,
        torch.rand(8, 3, 32, 32, generator=generator),
        labels,
        {},
    )
    cells = torch.rand(2, 6, 3, 36, 36, generator=generator)
    views = probe.crop_views(cells[0], cells[1], 32, seed=0)

    def run(seed: int) -> tuple[list[float], dict[str, Tensor], dict[str, Any]]:
        start = probe.initial_backbone(3, seed)
        order = torch.randperm(8, generator=torch.Generator().manual_seed(seed))
        probe.seed_all(seed)
        backbone, info = probe.pretrain(
            'gassl-tp',
            track,
            pool,
            order.reshape(2, 4),
            args,
            None,
            start,
            standardisation,
        )
        found = probe.evaluate(
            backbone, track, eurosat, views, standardisation, args.device
        )
        return info['losses'], backbone.state_dict(), found

    losses, weights, found = run(0)
    again_losses, again_weights, again_found = run(0)
    assert len(losses) == 2
    assert again_losses == losses
    assert again_weights.keys() == weights.keys()
    for key, value in weights.items():
        assert torch.equal(again_weights[key], value), key
    for metric, correct in found.items():
        np.testing.assert_array_equal(again_found[metric], correct)
    # Another seed is another run (the comparison above can fail).
    assert run(1)[0] != losses


@pytest.mark.slow
def test_same_arguments_give_the_same_numbers(
    shared_data: Path, tmp_path: Path
) -> None:
    # Two runs as a script with the same arguments, while another copy of the
    # package comes first on the path and changes between the runs (as the
    # editable install of a shared virtual environment does when another
    # checkout moves): both must measure this checkout and agree exactly.
    copies = []
    for name, temperature in (('before', None), ('after', '0.5')):
        package = tmp_path / name / 'torchgeo_geossl'
        shutil.copytree(
            REPO / 'torchgeo_geossl',
            package,
            ignore=shutil.ignore_patterns('__pycache__'),
        )
        if temperature is not None:
            source = package / 'trainers' / 'gassl.py'
            text, count = re.subn(
                r'temperature: float = [0-9.]+,',
                f'temperature: float = {temperature},',
                source.read_text(),
            )
            assert count == 1
            source.write_text(text)
        copies.append(package.parent)
    payloads = []
    for copy in copies:
        out = tmp_path / f'out-{copy.name}'
        result = subprocess.run(
            [
                sys.executable,
                str(SCRIPT),
                '--data-root',
                str(shared_data),
                '--tracks',
                'oscd-rgb',
                '--methods',
                'gassl-moco-v2',
                '--steps',
                '3',
                '--batch-size',
                '4',
                '--pool',
                '8',
                '--queue',
                '16',
                '--seeds',
                '2',
                '--eurosat-per-class',
                '2',
                '--retrieval-locations',
                '4',
                '--bootstrap',
                '10',
                '--out',
                str(out),
            ],
            check=False,
            capture_output=True,
            text=True,
            env=ENV | {'PYTHONPATH': str(copy)},
            timeout=600,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        payloads.append(json.loads((out / 'pretrain_probe.json').read_text()))
    first, second = (
        p['tracks']['oscd-rgb']['methods']['gassl-moco-v2'] for p in payloads
    )
    assert [r['losses'] for r in first['pretraining']] == [
        r['losses'] for r in second['pretraining']
    ]
    assert all(len(r['losses']) == 3 for r in first['pretraining'])
    assert first['correct'] == second['correct']
    assert first['metrics'] == second['metrics']
    for payload in payloads:
        code = payload['code']
        assert code['package'] == str(REPO / 'torchgeo_geossl')
        assert code['from_checkout'] is True
        assert code['checkout'] == str(REPO)


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
    assert payload['eurosat']['train'] == payload['eurosat']['test'] == 50
    methods = {
        'raw-pixels',
        'random-init',
        'random-init-bn-init',
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
        assert track['seeds'] == [0, 1]
        assert track['same_initialisation'] is True
        held = track['retrieval_set']
        assert held['locations'] == 16
        assert (held['patch_px'], held['shift_px'], held['cell_px']) == (32, 8, 40)
        assert track['pool']['samples'] == 48
        assert f'## {name}:' in report
        for method, row in track['methods'].items():
            if method == 'seco' and name != 'landsat':
                assert 'needs 3 acquisitions' in row['skipped']
                continue
            for metric, size in (('probe', 50), ('retrieval', 16)):
                summary = row['metrics'][metric]
                assert len(summary['per_seed']) == 2
                assert all(0 <= a <= 1 for a in summary['per_seed'])
                assert summary['mean'] == pytest.approx(sum(summary['per_seed']) / 2)
                low, high = summary['test_interval']
                assert 0 <= low <= high <= 1
                runs = row['correct'][metric]
                assert len(runs) == (1 if method == 'raw-pixels' else 2)
                assert all(len(r) == size for run in runs for r in run)
                # The per-item record gives the per-seed accuracy back.
                right = [sum(r.count('1') for r in run) for run in runs]
                total = [sum(len(r) for r in run) for run in runs]
                assert summary['per_seed'][-1] == pytest.approx(right[-1] / total[-1])
            steps = [r['steps'] for r in row['pretraining']]
            if method == 'raw-pixels':
                assert steps == []
            else:
                assert steps == ([0, 0] if 'random-init' in method else [2, 2])
            for run in row['pretraining']:
                assert all(math.isfinite(loss) for loss in run.get('losses', []))
        verdicts = {(c['a'], c['b'], c['metric']): c for c in track['comparisons']}
        pair = verdicts[('gassl-tp', 'gassl-moco-v2', 'retrieval')]
        assert pair['verdict'] in {
            'gassl-tp > gassl-moco-v2',
            'gassl-tp < gassl-moco-v2',
            'not resolved at this budget',
        }
        assert ('random-init', 'raw-pixels', 'retrieval_aligned') in verdicts
        # every method of the package is compared with TorchGeo's MoCo-v2 baseline
        for method in ('gassl-moco-v2', 'gassl-geo', 'gassl-tp', 'gassl-tp-geo'):
            assert (method, 'torchgeo-moco-v2', 'retrieval') in verdicts
        if 'metrics' in track['methods']['seco']:
            assert ('seco', 'torchgeo-moco-v2', 'probe') in verdicts
    landsat = payload['tracks']['landsat']
    assert landsat['pool']['scenes']['kept'] == 44
    assert landsat['pool']['views'] == 3
    assert 'metrics' in landsat['methods']['seco']
