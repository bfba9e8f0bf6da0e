"""Where a benchmark writes its results, shared by the benchmark scripts."""

import tempfile
from pathlib import Path

#: The committed results of the full runs.
RESULTS = Path(__file__).resolve().parent / 'results'


def output_folder(out: Path | None, quick: bool, name: str) -> Path:
    """The folder a benchmark run writes its JSON and plots into.

    A ``--quick`` run is a smoke test whose numbers mean little: unless ``--out``
    is given, it writes into a new temporary folder, so it never replaces the
    committed results of a full run.

    Args:
        out: The ``--out`` argument, or None.
        quick: Whether the run is a ``--quick`` one.
        name: Name of the benchmark, the prefix of the temporary folder.

    Returns:
        *out*; else a new temporary folder for a quick run, ``benchmarks/results``
        for a full one.
    """
    if out is not None:
        return out
    if quick:
        return Path(tempfile.mkdtemp(prefix=f'{name}_quick_'))
    return RESULTS
