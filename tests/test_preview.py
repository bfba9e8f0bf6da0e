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
