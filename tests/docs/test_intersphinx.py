"""The docs link Kornia, Lightning, PyTorch and TorchGeo objects to their online docs.

``docs/conf.py`` maps each project to a committed inventory written by
``docs/_inventories/make.py``, so the build needs no network. The fast tests read
those files with Sphinx's inventory reader: a few objects must link to the page and
anchor where the project's docs sources document them (written out here,
independently of the script), every entry must name an installed object and point
to that object's documented anchor (for TorchGeo: its task page, or the page of its
module), every class and function of TorchGeo's public modules must be mapped, the
committed files must be what the script writes for the installed packages, and
references to the mapped projects must be checked by the ``-W`` build. The slow
test builds a page with the configuration and reads its links.
"""

import inspect
import re
import runpy
from collections.abc import Callable
from pathlib import Path
from pkgutil import resolve_name
from typing import Any

import pytest
from sphinx.util.inventory import InventoryFile

DOCS = Path(__file__).resolve().parents[2] / 'docs'
INVENTORIES = DOCS / '_inventories'
KORNIA = 'https://kornia.readthedocs.io/en/v0.9.0/'
LIGHTNING = 'https://lightning.ai/docs/pytorch/2.6.5/'
TORCHGEO = 'https://docs.torchgeo.org/en/v0.10.1/'
TORCH = 'https://docs.pytorch.org/docs/stable/'

#: Reference target -> URL, from the layouts of the projects' docs sources:
#: Kornia docs/source/augmentation.{module,base,container}.rst (one page per file,
#: autoclass under its currentmodule); Lightning docs/source-pytorch/
#: api_references.rst (one page per class, api/<currentmodule>.<name>.html, or
#: one page per logger module); TorchGeo docs/api/tasks/<Name>.rst (one page per
#: task, linked without an anchor) and docs/api/<module>.rst (the page of a module,
#: whose module directive anchors it, and where the objects without a page of their
#: own link, without an anchor); PyTorch's stable docs (generated/<name>.html
#: for autosummary objects, tensors.html, data.html and random.html for objects
#: documented on those pages).
EXPECTED = {
    'kornia.augmentation.ColorJitter': (
        f'{KORNIA}augmentation.module.html#kornia.augmentation.ColorJitter'
    ),
    'kornia.augmentation.RandomResizedCrop': (
        f'{KORNIA}augmentation.module.html#kornia.augmentation.RandomResizedCrop'
    ),
    'kornia.augmentation.GeometricAugmentationBase2D': (
        f'{KORNIA}augmentation.base.html'
        '#kornia.augmentation.GeometricAugmentationBase2D'
    ),
    # documented under kornia.augmentation.container, referenced from its
    # re-export and from its defining module
    'kornia.augmentation.ImageSequential': (
        f'{KORNIA}augmentation.container.html'
        '#kornia.augmentation.container.ImageSequential'
    ),
    'kornia.augmentation.container.image.ImageSequential': (
        f'{KORNIA}augmentation.container.html'
        '#kornia.augmentation.container.ImageSequential'
    ),
    'lightning.pytorch.callbacks.ModelCheckpoint': (
        f'{LIGHTNING}api/lightning.pytorch.callbacks.ModelCheckpoint.html'
        '#lightning.pytorch.callbacks.ModelCheckpoint'
    ),
    'lightning.pytorch.Trainer': (
        f'{LIGHTNING}api/lightning.pytorch.trainer.trainer.Trainer.html'
        '#lightning.pytorch.trainer.trainer.Trainer'
    ),
    'lightning.pytorch.core.module.LightningModule': (
        f'{LIGHTNING}api/lightning.pytorch.core.LightningModule.html'
        '#lightning.pytorch.core.LightningModule'
    ),
    'lightning.pytorch.callbacks.callback.Callback': (
        f'{LIGHTNING}api/lightning.pytorch.callbacks.Callback.html'
        '#lightning.pytorch.callbacks.Callback'
    ),
    'lightning.pytorch.loggers.CSVLogger': (
        f'{LIGHTNING}api/lightning.pytorch.loggers.csv_logs.html'
        '#lightning.pytorch.loggers.csv_logs.CSVLogger'
    ),
    'torchgeo.tasks.Classification': f'{TORCHGEO}api/tasks/Classification.html',
    'torchgeo.tasks.change.ChangeDetection': (
        f'{TORCHGEO}api/tasks/ChangeDetection.html'
    ),
    'torchgeo.tasks.BaseTask': f'{TORCHGEO}api/tasks.html',
    'torchgeo.datasets.RasterDataset': f'{TORCHGEO}api/datasets.html',
    # as autodoc writes it in Bases: lines
    'torchgeo.datasets.geo.RasterDataset': f'{TORCHGEO}api/datasets.html',
    'torchgeo.datasets.unbind_samples': f'{TORCHGEO}api/datasets.html',
    'torchgeo.samplers.RandomPatchSampler': f'{TORCHGEO}api/samplers.html',
    'torchgeo.datamodules.GeoDataModule': f'{TORCHGEO}api/datamodules.html',
    'torchgeo.datamodules.BaseDataModule.plot': f'{TORCHGEO}api/datamodules.html',
    'torchgeo.models.ResNet50_Weights': f'{TORCHGEO}api/models.html',
    # the function, not the submodule of the same name that defines it
    'torchgeo.models.earthloc': f'{TORCHGEO}api/models.html',
    'torchgeo.transforms.RandomGrayscale': f'{TORCHGEO}api/transforms.html',
    'torchgeo.samplers': f'{TORCHGEO}api/samplers.html#module-torchgeo.samplers',
    'torchgeo.tasks': f'{TORCHGEO}api/tasks.html#module-torchgeo.tasks',
    'lightning.fabric.plugins.io.TorchCheckpointIO': (
        f'{LIGHTNING}api/lightning.pytorch.plugins.io.TorchCheckpointIO.html'
        '#lightning.pytorch.plugins.io.TorchCheckpointIO'
    ),
    'torch.Tensor': f'{TORCH}tensors.html#torch.Tensor',
    'torch.nn.Module': f'{TORCH}generated/torch.nn.Module.html#torch.nn.Module',
    # as autodoc writes it in Bases: lines
    'torch.nn.modules.module.Module': (
        f'{TORCH}generated/torch.nn.Module.html#torch.nn.Module'
    ),
    'torch.utils.data.DataLoader': f'{TORCH}data.html#torch.utils.data.DataLoader',
    'torch.utils.data.dataset.Dataset': f'{TORCH}data.html#torch.utils.data.Dataset',
    # documented under its defining module, referenced from the re-export
    'torch.utils.data.DistributedSampler': (
        f'{TORCH}data.html#torch.utils.data.distributed.DistributedSampler'
    ),
    'torch._C.Generator': f'{TORCH}generated/torch.Generator.html#torch.Generator',
    'torch.load': f'{TORCH}generated/torch.load.html#torch.load',
    'torch.random.fork_rng': f'{TORCH}random.html#torch.random.fork_rng',
    'torch.dtype': f'{TORCH}tensor_attributes.html#torch.dtype',
    'torch.argmax': f'{TORCH}generated/torch.argmax.html#torch.argmax',
    'torch.optim.lr_scheduler.LRScheduler': (
        f'{TORCH}generated/torch.optim.lr_scheduler.LRScheduler.html'
        '#torch.optim.lr_scheduler.LRScheduler'
    ),
    # a method, on its class's page
    'torch.nn.Module.state_dict': (
        f'{TORCH}generated/torch.nn.Module.html#torch.nn.Module.state_dict'
    ),
}


#: TorchGeo's public modules, each with a page api/<name>.html.
TORCHGEO_MODULES = (
    'datamodules',
    'datasets',
    'losses',
    'models',
    'samplers',
    'tasks',
    'transforms',
)


def lookup(target: str) -> Any:
    """The object a dotted name refers to: an attribute of its parent if it has one.

    ``torchgeo.models.earthloc`` is both a function of ``torchgeo.models`` and the
    submodule that defines it; the docs document the function.
    """
    parent, _, name = target.rpartition('.')
    try:
        return getattr(resolve_name(parent), name)
    except (AttributeError, ImportError, ValueError):
        return resolve_name(target)


def conf() -> dict[str, Any]:
    return runpy.run_path(str(DOCS / 'conf.py'))


def inventory(name: str) -> dict[str, str]:
    """Reference target -> URL of one mapped project, as intersphinx reads it."""
    url, location = conf()['intersphinx_mapping'][name]
    data = InventoryFile.loads((DOCS / location).read_bytes(), uri=url).data
    return {
        target: item.uri for items in data.values() for target, item in items.items()
    }


def test_conf_maps_each_committed_inventory_to_a_pinned_version() -> None:
    mapping = conf()['intersphinx_mapping']
    assert mapping == {
        'kornia': (KORNIA, '_inventories/kornia.inv'),
        'lightning': (LIGHTNING, '_inventories/lightning.inv'),
        'torch': (TORCH, '_inventories/torch.inv'),
        'torchgeo': (TORCHGEO, '_inventories/torchgeo.inv'),
    }
    assert sorted(path.name for path in INVENTORIES.glob('*.inv')) == [
        'kornia.inv',
        'lightning.inv',
        'torch.inv',
        'torchgeo.inv',
    ]


@pytest.mark.parametrize('target', sorted(EXPECTED))
def test_known_objects_link_to_their_documented_page(target: str) -> None:
    project = target.split('.')[0]
    assert inventory(project)[target] == EXPECTED[target]


@pytest.mark.parametrize('project', ['kornia', 'lightning', 'torch', 'torchgeo'])
def test_every_entry_is_the_installed_object_at_its_anchor(project: str) -> None:
    entries = inventory(project)
    assert len(entries) > 20
    wrong = []
    for target, url in entries.items():
        if not url.startswith(conf()['intersphinx_mapping'][project][0]):
            wrong.append(f'{target}: {url} is not under the mapped URL')
        elif project == 'torchgeo':
            if not torchgeo_page_documents(url, target):
                wrong.append(f'{target} is not documented at {url}')
        elif lookup(target) is not lookup(url.partition('#')[2]):
            wrong.append(f'{target} is not the object documented at {url}')
    assert not wrong


def torchgeo_page_documents(url: str, target: str) -> bool:
    """Whether a page of TorchGeo's docs documents the object of *target*.

    A task page ``api/tasks/<Name>.html`` documents ``torchgeo.tasks.<Name>``; the
    page of a module, ``api/<module>.html``, documents the module at its anchor
    ``module-torchgeo.<module>``, and, without an anchor, the module's members.
    """
    page, _, anchor = url.removeprefix(TORCHGEO).partition('#')
    obj = lookup(target)
    if page.startswith('api/tasks/'):
        name = page.removeprefix('api/tasks/').removesuffix('.html')
        return not anchor and obj is lookup(f'torchgeo.tasks.{name}')
    module = resolve_name('torchgeo.' + page.removeprefix('api/').removesuffix('.html'))
    if anchor:
        return anchor == f'module-{module.__name__}' and obj is module
    member: Any = module
    for name in obj.__qualname__.split('.'):
        member = getattr(member, name, None)
    return member is obj


@pytest.mark.parametrize('module', TORCHGEO_MODULES)
def test_every_public_torchgeo_object_links(module: str) -> None:
    # Every class and function a TorchGeo module exports links somewhere (its own
    # page or its module's page), so no reference to one stays plain text.
    namespace = resolve_name(f'torchgeo.{module}')
    mapped = inventory('torchgeo')
    names = [
        name
        for name in namespace.__all__
        if inspect.isclass(getattr(namespace, name))
        or inspect.isfunction(getattr(namespace, name))
    ]
    assert len(names) >= 2
    assert [name for name in names if f'torchgeo.{module}.{name}' not in mapped] == []
    assert mapped[f'torchgeo.{module}'] == (
        f'{TORCHGEO}api/{module}.html#module-torchgeo.{module}'
    )


def test_committed_inventories_are_what_the_script_writes(tmp_path: Path) -> None:
    runpy.run_path(str(INVENTORIES / 'make.py'))['main'](tmp_path)
    for committed in INVENTORIES.glob('*.inv'):
        assert (tmp_path / committed.name).read_bytes() == committed.read_bytes(), (
            f'{committed} is out of date: run python docs/_inventories/make.py'
        )


def test_references_to_mapped_projects_are_checked() -> None:
    settings = conf()
    assert settings['nitpicky']
    ((role, pattern),) = settings['nitpick_ignore_regex']
    ignored = [
        ('py:class', 'geopandas.GeoDataFrame'),
        ('py:class', 'lightning.pytorch.utilities.types.OptimizerConfig'),
        ('py:func', 'torch.sigmoid'),
        ('py:mod', 'torch.distributed'),
    ]
    checked = [
        ('py:class', 'kornia.augmentation.ColorJitter'),
        ('py:func', 'kornia.augmentation.nonexistent'),
        ('py:class', 'lightning.pytorch.Trainer'),
        ('py:class', 'torch.Tensor'),
        ('py:func', 'torch.nonexistent'),
        ('py:class', 'torch.nn.SyncBatchNorm'),
        ('py:class', 'torchgeo.datasets.RasterDataset'),
        ('py:func', 'torchgeo.datasets.nonexistent'),
    ]

    def is_ignored(reftype: str, target: str) -> bool:
        return (reftype, target) in settings['nitpick_ignore'] or bool(
            re.fullmatch(role, reftype) and re.fullmatch(pattern, target)
        )

    assert all(is_ignored(*reference) for reference in ignored)
    assert not any(is_ignored(*reference) for reference in checked)


def test_torch_objects_left_plain_are_not_mapped() -> None:
    # The ignored torch references are exactly the ones without a verified page:
    # none of them may hide an object the inventory maps.
    mapped = inventory('torch')
    left_plain = [
        target for _, target in conf()['nitpick_ignore'] if target.startswith('torch.')
    ]
    assert len(left_plain) == 4
    assert not [target for target in left_plain if target in mapped]
    for target in left_plain:
        resolve_name(target)  # an installed object, not a typo


@pytest.mark.slow
def test_built_page_links_to_the_online_docs(build_page: Callable[[str], Path]) -> None:
    build = build_page(
        'Links\n=====\n\n:class:`kornia.augmentation.ColorJitter`, '
        ':class:`lightning.pytorch.Trainer`, :class:`torchgeo.tasks.Classification`, '
        ':class:`torch.nn.Module`, :class:`torchgeo.datasets.RasterDataset`, '
        ':func:`torch.sigmoid`, :mod:`torchgeo.samplers`\n'
    )
    html = (build / 'index.html').read_text()
    assert f'href="{EXPECTED["kornia.augmentation.ColorJitter"]}"' in html
    assert f'href="{EXPECTED["lightning.pytorch.Trainer"]}"' in html
    assert f'href="{EXPECTED["torchgeo.tasks.Classification"]}"' in html
    assert f'href="{EXPECTED["torch.nn.Module"]}"' in html
    # not mapped: plain text, no link
    assert 'torch.sigmoid' in html
    assert html.count('docs.pytorch.org') == 1
    assert f'href="{EXPECTED["torchgeo.datasets.RasterDataset"]}"' in html
    assert f'href="{EXPECTED["torchgeo.samplers"]}"' in html
    assert html.count('docs.torchgeo.org') == 3
