"""``--quick`` benchmark runs never replace the committed full results."""

from pathlib import Path
from types import ModuleType

import pytest
from conftest import BENCHMARKS, import_benchmark

#: Benchmark scripts with a ``--quick`` mode.
SCRIPTS = (
    'sampling',
    'augmentation',
    'train_step',
    'location_encoders',
    'pretrain_probe',
    'demo_ceiling',
)


@pytest.fixture(scope='module')
def output() -> ModuleType:
    return import_benchmark('output')


def test_quick_runs_write_to_a_new_temporary_folder(
    output: ModuleType, tmp_path: Path
) -> None:
    results = BENCHMARKS / 'results'
    assert output.output_folder(None, False, 'x') == results
    first = output.output_folder(None, True, 'sampling')
    second = output.output_folder(None, True, 'sampling')
    assert first != second
    for folder in (first, second):
        assert folder.is_dir()
        assert folder.name.startswith('sampling_quick_')
        assert results not in folder.parents
        folder.rmdir()
    assert output.output_folder(tmp_path, True, 'x') == tmp_path
    assert output.output_folder(tmp_path, False, 'x') == tmp_path


@pytest.mark.parametrize('script', SCRIPTS)
def test_every_benchmark_chooses_its_folder_so(script: str) -> None:
    source = (BENCHMARKS / f'{script}.py').read_text()
    assert f"output_folder(args.out, args.quick, '{script}')" in source
    assert "default=REPO / 'benchmarks' / 'results'" not in source
