"""Description of the machine and library versions, shared by the benchmark scripts."""

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import torch

#: Libraries whose versions every benchmark records.
LIBRARIES = (
    'torch',
    'torchvision',
    'torchgeo',
    'torchgeo-geossl',
    'kornia',
    'lightly',
    'lightning',
    'timm',
    'numpy',
    'pandas',
    'shapely',
    'geopandas',
    'rasterio',
)


def cpu_model() -> str:
    """Name of the CPU model (from ``/proc/cpuinfo`` where available).

    Returns:
        The model name, or :func:`platform.processor` elsewhere.
    """
    cpuinfo = Path('/proc/cpuinfo')
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    return platform.processor()


def describe_machine(device: torch.device | None = None) -> dict[str, Any]:
    """Describe the machine, the threads, the device and the library versions.

    Args:
        device: The device the benchmark runs on (CPU if None).

    Returns:
        Platform, CPU, CPU counts, torch threads, device (and GPU name), the
        allocator and OpenMP environment variables, and library versions.
    """
    device = device or torch.device('cpu')
    info: dict[str, Any] = {
        'platform': platform.platform(),
        'python': platform.python_version(),
        'cpu': cpu_model(),
        'cpu_count': os.cpu_count(),
        'cpus_usable': len(os.sched_getaffinity(0)),
        'torch_threads': torch.get_num_threads(),
        'device': str(device),
        'env': {
            k: v
            for k, v in os.environ.items()
            if k.startswith(('MALLOC_', 'OMP_', 'MKL_', 'KMP_'))
        },
        'versions': {},
    }
    for name in LIBRARIES:
        try:
            info['versions'][name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            info['versions'][name] = None
    if device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
    return info


def describe_code(repo: Path, package: Path) -> dict[str, Any]:
    """Which ``torchgeo_geossl`` the numbers describe.

    Args:
        repo: The repository that holds the benchmark script.
        package: The folder of the ``torchgeo_geossl`` package actually imported.

    Returns:
        ``package`` (the folder imported), ``checkout`` (*repo*), ``from_checkout``
        (whether the package imported is the checkout's), ``commit`` (the checkout's
        git commit) and ``modified`` (files under ``torchgeo_geossl/`` and
        ``benchmarks/`` that differ from it); the last two are None where git cannot
        tell.
    """

    def git(*options: str) -> str | None:
        try:
            result = subprocess.run(
                ['git', '-C', str(repo), *options],
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        # only the line ends: a status line starts with a space (' M path')
        return result.stdout.rstrip('\n')

    status = git('status', '--porcelain', '--', 'torchgeo_geossl', 'benchmarks')
    return {
        'package': str(package),
        'checkout': str(repo),
        'from_checkout': package == repo / 'torchgeo_geossl',
        'commit': git('rev-parse', 'HEAD'),
        'modified': None
        if status is None
        else [line[3:] for line in status.splitlines()],
    }
