import re
from pathlib import Path

import pytest
import torch
from PIL import Image

from torchgeo_geossl.preview import format_batch, main


def test_main_writes_table_and_grid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / 'preview.png'
    main(
        [
            '--root',
            str(tmp_path / 'demo'),
            '--out',
            str(out),
            '--tile-size',
            '48',
            '--patch-size',
            '24',
            '--batch-size',
            '3',
            '--views',
            '2',
        ]
    )
    text = capsys.readouterr().out
    assert 'image (3, 2, 4, 24, 24) torch.float32' in text
    assert 'point (3, 2) torch.float64' in text
    assert 'time (3, 2) torch.float64' in text
    assert 'Saved a grid' in text
    with Image.open(out) as image:
        width, height = image.size
    assert height > width > 0  # 3 rows × 2 columns of panels


def test_format_batch_rows() -> None:
    batch = {
        'image': torch.zeros(2, 2, 4, 8, 8),
        'point': torch.tensor([[179.8, -16.5], [-98.5, 38.5]], dtype=torch.float64),
        'time': torch.tensor([[1609459200.0, 1612137600.0]] * 2, dtype=torch.float64),
        'label': torch.tensor([3, 1]),
    }
    lines = format_batch(batch).splitlines()
    assert lines[2].split() == [
        '0',
        '179.8000',
        '-16.5000',
        '3',
        '2021-01-01,',
        '2021-02-01',
    ]
    assert lines[3].split()[1:4] == ['-98.5000', '38.5000', '1']


@pytest.mark.parametrize(
    ('argv', 'message'),
    [
        (['--views', '0'], '--views must be at least 1'),
        (['--patch-size', '300'], 'larger than the demo tiles'),
    ],
)
def test_bad_arguments(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(argv)
    assert message in capsys.readouterr().err


def test_sampling_seed_reuses_the_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ['--root', str(tmp_path / 'demo'), '--out', str(tmp_path / 'p.png')]
    argv += ['--tile-size', '32', '--patch-size', '16', '--batch-size', '2']
    main([*argv, '--seed', '0'])
    first = capsys.readouterr().out
    main([*argv, '--seed', '1'])
    second = capsys.readouterr().out
    assert first.splitlines()[3:] != second.splitlines()[3:]  # other draws
    assert 'Saved a grid' in second


CONFIGS = Path(__file__).resolve().parents[1] / 'configs'
DATA = Path(__file__).resolve().parent / 'data'


@pytest.mark.parametrize(
    ('config', 'args', 'shape'),
    [
        (
            'gassl/own_sentinel2.yaml',
            [
                f'--data.init_args.root={DATA / "sentinel2"}',
                '--data.init_args.patch_size=8',
                '--data.init_args.holdout.cell_size=160',
            ],
            'image (3, 2, 4, 8, 8)',
        ),
        (
            'gassl/fmow_tp_geo.yaml',
            [
                f'--data.init_args.root={DATA / "fmow"}',
                '--data.init_args.size=16',
                '--data.init_args.geo_clusters=null',
            ],
            'image (3, 2, 3, 16, 16)',
        ),
        (
            'csp/s2100k.yaml',
            [f'--data.init_args.root={DATA / "s2100k"}'],
            'image (3, 12, 8, 8)',
        ),
    ],
)
def test_any_config(
    config: str,
    args: list[str],
    shape: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / 'preview.png'
    main(
        [
            '--config',
            str(CONFIGS / config),
            '--out',
            str(out),
            '--batch-size',
            '3',
            '--data.init_args.num_workers=0',
            *args,
        ]
    )
    text = capsys.readouterr().out
    assert shape in text
    assert len([line for line in text.splitlines() if line[:3].strip().isdigit()]) == 3
    assert f'Saved a grid of the views to {out}' in text
    with Image.open(out) as image:
        width, height = image.size
    assert width > 0
    assert height > 0


@pytest.mark.parametrize(
    ('config', 'args', 'message'),
    [
        (
            'gassl/fmow_tp_geo.yaml',
            ['--data.init_args.root=absent'],
            'The data of .*fmow_tp_geo.yaml is absent .*--data.init_args.root PATH',
        ),
        (
            'csp/geoprior_demo.yaml',
            [f'--data.init_args.path={DATA / "points" / "points.csv"}'],
            'serves no images',
        ),
        (
            'demo.yaml',
            ['--data.init_args.no_such_option=1'],
            'not a TorchGeo data module',
        ),
    ],
)
def test_config_errors(
    config: str,
    args: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        main(['--config', str(CONFIGS / config), *args])
    assert re.search(message, capsys.readouterr().err)
