"""Write the intersphinx inventories that ``docs/conf.py`` reads offline.

The docs are built without network (here and in CI), so intersphinx cannot fetch
the ``objects.inv`` of the projects this package builds on. This script writes a
local inventory for each of them instead, with Sphinx's own inventory writer:
one entry per object of the installed package that the project's docs document,
on the page and under the anchor where those docs put it. Which object lives on
which page is not guessed: :data:`PROJECTS` records, for each project, the docs
sources (repository, tag, file) the layout was read from, and lists only the
objects those sources document. An object the installed package lacks stops the
script with an error naming it (the layout then no longer matches the package).

Besides the documented name, an object gets the names under which autodoc of this
package may refer to it (its defining module, as in ``Bases:`` lines and type
hints, and the public namespaces of :attr:`Project.namespaces` that re-export the
same object), all pointing to the same page and anchor.

TorchGeo 0.10.1 is mapped at two levels (see :data:`TORCHGEO`). No snapshot of
its repository reachable here has the v0.10.1 tag (the newest tags are v0.7.1,
and the snapshots of the repository end in 2025, at 0.8.0.dev0), and the stored
later docs sources mix two page layouts, so only pages that exist in both are
used: the eleven tasks with a page of their own, and the page of each public
module (``api/datasets.html``, ``api/samplers.html``, ...), which documents the
module's objects in the one layout and lists their pages in the other. The
objects of a module link to its page without an anchor, the module to its
``module-`` anchor. Objects that TorchGeo does not export from a public module
(``torchgeo.models.satclip.SirenNet``) are not in its docs and are not mapped.

What is left out, with the reason (references to it stay plain text):

* PyTorch objects whose entry on a stored page of the ``stable`` docs was not
  seen (see :data:`TORCH`): ``torch.sigmoid``, ``torch.autocast``,
  ``torch.optim.Optimizer`` and the ``torch.distributed`` module.

Run from the repository root after upgrading Kornia, Lightning, PyTorch or
TorchGeo, once the layout below has been checked against the new version's docs
sources::

    python docs/_inventories/make.py

``tests/docs/test_intersphinx.py`` checks that the committed files are what this
script writes for the installed packages.
"""

import importlib
import inspect
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

from sphinx.util.inventory import InventoryFile

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Page:
    """Objects that the docs document under one ``currentmodule``.

    Args:
        docname: page of the docs (path without ``.html``); ``{fullname}`` and
            ``{name}`` are replaced by the object's full and documented name for
            one-page-per-object layouts.
        module: the ``currentmodule`` the objects are documented under, which is
            also the prefix of their anchors.
        names: the documented names, relative to *module*.
        anchored: whether the entries link to the object's anchor; without it
            they link to the top of the page (for one-object pages whose anchor
            could not be established).
    """

    docname: str
    module: str
    names: tuple[str, ...]
    anchored: bool = True


@dataclass(frozen=True)
class Project:
    """One project's docs: where they are and how their API pages are laid out.

    Args:
        title: project name written into the inventory header.
        version: the docs version the URL points to.
        url: base URL of that version's docs.
        source: where the layout in *pages* was read (repository, tag, files).
        pages: the documented objects, page by page.
        namespaces: public modules whose re-exports of documented objects are
            added as further names.
        modules: documented modules and the page whose module directive anchors
            each (``module-<name>``).
    """

    title: str
    version: str
    url: str
    source: str
    pages: tuple[Page, ...]
    namespaces: tuple[str, ...]
    modules: Mapping[str, str] = field(default_factory=dict)


KORNIA_AUGMENTATIONS = (
    # docs/source/augmentation.module.rst: Transforms2D (intensity, geometric,
    # mix), Transforms3D, normalizations and image resize, in file order
    'ColorJiggle',
    'ColorJitter',
    'RandomAutoContrast',
    'RandomBoxBlur',
    'RandomBrightness',
    'RandomChannelDropout',
    'RandomChannelShuffle',
    'RandomClahe',
    'RandomContrast',
    'RandomEqualize',
    'RandomDissolving',
    'RandomGamma',
    'RandomGaussianBlur',
    'RandomGaussianIllumination',
    'RandomGaussianNoise',
    'RandomGrayscale',
    'RandomHue',
    'RandomInvert',
    'RandomJPEG',
    'RandomLinearCornerIllumination',
    'RandomLinearIllumination',
    'RandomMedianBlur',
    'RandomMotionBlur',
    'RandomPlanckianJitter',
    'RandomPlasmaBrightness',
    'RandomPlasmaContrast',
    'RandomPlasmaShadow',
    'RandomPosterize',
    'RandomRain',
    'RandomRGBShift',
    'RandomSaltAndPepperNoise',
    'RandomSaturation',
    'RandomSharpness',
    'RandomSnow',
    'RandomSolarize',
    'CenterCrop',
    'PadTo',
    'RandomAffine',
    'RandomCrop',
    'RandomElasticTransform',
    'RandomErasing',
    'RandomFisheye',
    'RandomHorizontalFlip',
    'RandomPerspective',
    'RandomResizedCrop',
    'RandomRotation90',
    'RandomRotation',
    'RandomShear',
    'RandomThinPlateSpline',
    'RandomVerticalFlip',
    'RandomCutMixV2',
    'RandomJigsaw',
    'RandomMixUpV2',
    'RandomMosaic',
    'RandomTransplantation',
    'CenterCrop3D',
    'RandomAffine3D',
    'RandomCrop3D',
    'RandomDepthicalFlip3D',
    'RandomHorizontalFlip3D',
    'RandomRotation3D',
    'RandomVerticalFlip3D',
    'RandomEqualize3D',
    'RandomMotionBlur3D',
    'RandomTransplantation3D',
    'Denormalize',
    'Normalize',
    'LongestMaxSize',
    'Resize',
    'SmallestMaxSize',
)

KORNIA = Project(
    title='Kornia',
    version='0.9.0',
    # Read the Docs serves every release tag under /en/<tag>/.
    url='https://kornia.readthedocs.io/en/v0.9.0/',
    source=(
        'github.com/kornia/kornia, tag v0.9.0rc1 (the v0.9.0 tag is not in the '
        'snapshot; the three files are unchanged from v0.9.0rc1 to main of '
        '2026-08-18): docs/source/augmentation.module.rst, '
        'docs/source/augmentation.base.rst, docs/source/augmentation.container.rst '
        '(one page per file, objects by autoclass under the currentmodule)'
    ),
    pages=(
        Page('augmentation.module', 'kornia.augmentation', KORNIA_AUGMENTATIONS),
        Page(
            'augmentation.base',
            'kornia.augmentation',
            (
                'GeometricAugmentationBase2D',
                'IntensityAugmentationBase2D',
                'AugmentationBase2D',
            ),
        ),
        Page(
            'augmentation.container',
            'kornia.augmentation.container',
            (
                'AugmentationSequential',
                'ManyToManyAugmentationDispather',
                'ManyToOneAugmentationDispather',
                'ImageSequential',
                'PatchSequential',
                'VideoSequential',
            ),
        ),
    ),
    namespaces=('kornia.augmentation',),
)

#: docs/source-pytorch/api_references.rst: autosummary with ``:toctree: api`` and
#: ``:template: classtemplate.rst``, which gives each class the page
#: ``api/<currentmodule>.<name>.html`` with an ``autoclass`` under the
#: currentmodule.
LIGHTNING_PAGE = 'api/{fullname}'
#: The loggers section lists modules instead (autosummary without a template, so
#: docs/source-pytorch/_templates/autosummary/module.rst): each module gets the
#: page ``api/<module>.html`` whose ``automodule`` documents the module's classes
#: (docs/source-pytorch/conf.py's ``autodoc_default_options`` has ``members``)
#: under the module; the pages of the two loggers this package uses are listed.

LIGHTNING = Project(
    title='PyTorch Lightning',
    version='2.6.5',
    # lightning.ai hosts the docs of every release under /docs/pytorch/<version>/.
    url='https://lightning.ai/docs/pytorch/2.6.5/',
    source=(
        'github.com/Lightning-AI/pytorch-lightning, tag 2.6.5 (the newest 2.6 tag '
        'in the snapshot; 2.6.6 is installed): '
        'docs/source-pytorch/api_references.rst, '
        'docs/source-pytorch/_templates/classtemplate.rst, '
        'docs/source-pytorch/_templates/autosummary/module.rst, '
        'docs/source-pytorch/conf.py'
    ),
    pages=(
        Page(
            LIGHTNING_PAGE,
            'lightning.pytorch.accelerators',
            ('Accelerator', 'CPUAccelerator', 'CUDAAccelerator', 'XLAAccelerator'),
        ),
        Page(
            LIGHTNING_PAGE,
            'lightning.pytorch.callbacks',
            (
                'BackboneFinetuning',
                'BaseFinetuning',
                'BasePredictionWriter',
                'BatchSizeFinder',
                'Callback',
                'DeviceStatsMonitor',
                'EarlyStopping',
                'GradientAccumulationScheduler',
                'LambdaCallback',
                'LearningRateFinder',
                'LearningRateMonitor',
                'ModelCheckpoint',
                'ModelPruning',
                'ModelSummary',
                'OnExceptionCheckpoint',
                'ProgressBar',
                'RichModelSummary',
                'RichProgressBar',
                'StochasticWeightAveraging',
                'SpikeDetection',
                'ThroughputMonitor',
                'Timer',
                'TQDMProgressBar',
                'WeightAveraging',
            ),
        ),
        Page(
            LIGHTNING_PAGE,
            'lightning.pytorch.cli',
            ('LightningCLI', 'LightningArgumentParser', 'SaveConfigCallback'),
        ),
        Page(
            LIGHTNING_PAGE,
            'lightning.pytorch.core',
            (
                'hooks.CheckpointHooks',
                'hooks.DataHooks',
                'hooks.ModelHooks',
                'LightningDataModule',
                'LightningModule',
                'mixins.HyperparametersMixin',
                'optimizer.LightningOptimizer',
            ),
        ),
        Page(
            LIGHTNING_PAGE,
            'lightning.pytorch.plugins.precision',
            (
                'DeepSpeedPrecision',
                'DoublePrecision',
                'HalfPrecision',
                'FSDPPrecision',
                'MixedPrecision',
                'Precision',
                'XLAPrecision',
                'TransformerEnginePrecision',
                'BitsandbytesPrecision',
            ),
        ),
        Page(
            LIGHTNING_PAGE,
            'lightning.pytorch.plugins.environments',
            (
                'ClusterEnvironment',
                'KubeflowEnvironment',
                'LightningEnvironment',
                'LSFEnvironment',
                'MPIEnvironment',
                'SLURMEnvironment',
                'TorchElasticEnvironment',
                'XLAEnvironment',
            ),
        ),
        Page(
            LIGHTNING_PAGE,
            'lightning.pytorch.plugins.io',
            (
                'AsyncCheckpointIO',
                'CheckpointIO',
                'TorchCheckpointIO',
                'XLACheckpointIO',
            ),
        ),
        Page(
            LIGHTNING_PAGE,
            'lightning.pytorch.plugins',
            ('LayerSync', 'TorchSyncBatchNorm'),
        ),
        Page(
            LIGHTNING_PAGE,
            'lightning.pytorch.profilers',
            (
                'AdvancedProfiler',
                'PassThroughProfiler',
                'Profiler',
                'PyTorchProfiler',
                'SimpleProfiler',
                'XLAProfiler',
            ),
        ),
        Page(
            'api/lightning.pytorch.loggers.csv_logs',
            'lightning.pytorch.loggers.csv_logs',
            ('CSVLogger',),
        ),
        Page(
            'api/lightning.pytorch.loggers.tensorboard',
            'lightning.pytorch.loggers.tensorboard',
            ('TensorBoardLogger',),
        ),
        Page(LIGHTNING_PAGE, 'lightning.pytorch.trainer.trainer', ('Trainer',)),
        Page(
            LIGHTNING_PAGE,
            'lightning.pytorch.strategies',
            (
                'DDPStrategy',
                'DeepSpeedStrategy',
                'FSDPStrategy',
                'ModelParallelStrategy',
                'ParallelStrategy',
                'SingleDeviceStrategy',
                'SingleDeviceXLAStrategy',
                'Strategy',
                'XLAStrategy',
            ),
        ),
        Page(LIGHTNING_PAGE, 'lightning.pytorch.tuner.tuning', ('Tuner',)),
    ),
    namespaces=(
        'lightning.pytorch',
        'lightning.pytorch.core',
        'lightning.pytorch.loggers',
        'lightning.fabric.plugins.io',
    ),
)

#: TorchGeo's tasks with a page of their own, ``docs/api/tasks/<Name>.rst``.
TORCHGEO_TASK_PAGES = (
    'BYOL',
    'ChangeDetection',
    'Classification',
    'ClassificationMixin',
    'IOBench',
    'MAE',
    'MoCo',
    'ObjectDetection',
    'Regression',
    'SemanticSegmentation',
    'SimCLR',
)

#: TorchGeo's public modules and the page of each, ``docs/api/<name>.rst``, whose
#: ``.. module::`` (or ``.. automodule::``) directive anchors the module.
TORCHGEO_MODULE_PAGES = {
    f'torchgeo.{name}': f'api/{name}'
    for name in (
        'datamodules',
        'datasets',
        'losses',
        'models',
        'samplers',
        'tasks',
        'transforms',
    )
}


def public_objects(module: str, exclude: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The classes and functions a module exports (its ``__all__``).

    Args:
        module: dotted name of an installed module.
        exclude: names left out (documented on pages of their own).

    Returns:
        the names, sorted.
    """
    namespace = importlib.import_module(module)
    return tuple(
        sorted(
            name
            for name in namespace.__all__
            if name not in exclude
            and (
                inspect.isclass(getattr(namespace, name))
                or inspect.isfunction(getattr(namespace, name))
            )
        )
    )


TORCHGEO = Project(
    title='torchgeo',
    version='0.10.1',
    # Read the Docs serves every release tag under /en/<tag>/ (the version switcher
    # of the docs, docs/_static/switcher.json, lists them so up to v0.10.1).
    url='https://docs.torchgeo.org/en/v0.10.1/',
    source=(
        'github.com/microsoft/torchgeo (now torchgeo/torchgeo). Tasks: '
        'docs/api/tasks.rst (a hidden toctree of tasks/*) and '
        'docs/api/tasks/<Name>.rst, one page per task with one autoclass. The pages '
        'of these eleven tasks were written while the classes already had their 0.10 '
        'names but the module was still torchgeo.trainers (autoclass '
        'torchgeo.trainers.<Name>), so before v0.10.0, whose module is '
        'torchgeo.tasks; their second stored version reads torchgeo.tasks.<Name>. '
        'Which of the two v0.10.1 has is not known, so the entries link to the page, '
        'not to an anchor. Modules: docs/api/<module>.rst holds the module directive '
        '(.. module:: or .. automodule:: torchgeo.<module>) in every stored layout: '
        'the one page that documents all objects of the module (tags v0.1.0 to '
        'v0.7.1 and the snapshot of 2025-09, 0.8.0.dev0, whose docs/index.rst lists '
        'api/datamodules, api/datasets, api/losses, api/models, api/samplers, '
        'api/trainers and api/transforms) and the index pages of the later '
        'one-page-per-object layouts (docs/api/tasks.rst with .. module:: '
        'torchgeo.tasks; docs/api/models.rst of torchgeo/torchgeo, whose '
        'docs/_static/switcher.json names v0.10.1 the stable release, a toctree of '
        'models/* that lists models 0.10.1 has, such as Tessera, BTC and ChangeViT). '
        'So api/<module>.html exists at v0.10.1 whichever layout it has: the objects '
        'of a module without a page of their own here link to it without an anchor '
        '(it documents them, or lists their pages), and the module links to its '
        'module- anchor. The stored pages of single samplers, datasets and models '
        '(docs/api/samplers/<Name>.rst, docs/api/datasets/<dataset>.rst, '
        'docs/api/models/<family>/<name>.rst) mix versions and name objects that '
        '0.10.1 does not have (RandomSpatialSampler, GridSpatialSampler), so they are '
        'not used'
    ),
    pages=(
        Page('api/tasks/{name}', 'torchgeo.tasks', TORCHGEO_TASK_PAGES, anchored=False),
        *(
            Page(
                docname,
                module,
                public_objects(
                    module,
                    exclude=TORCHGEO_TASK_PAGES if module == 'torchgeo.tasks' else (),
                ),
                anchored=False,
            )
            for module, docname in TORCHGEO_MODULE_PAGES.items()
        ),
        # Methods that these docs name, on the page of their class's module.
        Page(
            'api/datamodules',
            'torchgeo.datamodules',
            ('BaseDataModule.plot',),
            anchored=False,
        ),
    ),
    namespaces=(),
    modules=TORCHGEO_MODULE_PAGES,
)

#: PyTorch's docs put each object of an ``autosummary`` with ``:toctree:
#: generated`` on the page ``generated/<currentmodule>.<name>.html``, whose one
#: ``autoclass``/``autofunction`` is anchored at the full name.
TORCH_GENERATED = 'generated/{fullname}'

TORCH = Project(
    title='PyTorch',
    version='stable',
    # The docs of each release are served under /docs/<major.minor>/ (stored
    # pages of /docs/2.12/random.html and /docs/2.15/generated/torch.argmax.html
    # exist), but no stored page shows a /docs/2.14/ path for the installed 2.14,
    # so the links go to /docs/stable/, whose stored pages have the layout below.
    url='https://docs.pytorch.org/docs/stable/',
    source=(
        'github.com/pytorch/pytorch docs/source (torch.md, tensors.md, '
        'tensor_attributes.md, data.md, random.md, optim.md), each page checked '
        'against a stored page of https://docs.pytorch.org/docs/stable/ that '
        'shows the object: generated/torch.nn.Module.html, '
        'generated/torch.nn.SyncBatchNorm.html, generated/torch.Generator.html, '
        'generated/torch.load.html, generated/torch.save.html, '
        'generated/torch.no_grad.html, generated/torch.argmax.html, '
        'generated/torch.optim.lr_scheduler.ReduceLROnPlateau.html, '
        'generated/torch.optim.lr_scheduler.LRScheduler.html, random.html, '
        '_sources/generated/torch.nn.Module.rst.txt (autoclass Module with '
        ':members:, so its methods are on its page), '
        '_sources/data.md.txt (the source of data.html), generated/torch.Generator.md '
        '(links ../tensors.html#torch.Tensor) and '
        'https://pytorch.org/docs/stable/tensor_attributes (class torch.dtype, '
        'class torch.device)'
    ),
    pages=(
        # docs/source/tensors.md: ``.. class:: Tensor()`` under currentmodule torch;
        # the stored generated/torch.Generator.md links it as
        # ../tensors.html#torch.Tensor.
        Page('tensors', 'torch', ('Tensor',)),
        # docs/source/tensor_attributes.md: ``.. class:: dtype`` and
        # ``.. class:: device`` under currentmodule torch (stored page
        # https://pytorch.org/docs/stable/tensor_attributes shows both).
        Page('tensor_attributes', 'torch', ('dtype', 'device')),
        # docs/source/torch.md: autosummary sections Generators, Serialization,
        # Locally disabling gradient computation and Reduction Ops (stored pages
        # generated/torch.Generator.html, torch.load.html, torch.save.html,
        # torch.no_grad.html, torch.argmax.html).
        Page(
            TORCH_GENERATED, 'torch', ('Generator', 'load', 'save', 'no_grad', 'argmax')
        ),
        # Stored pages generated/torch.nn.Module.html and
        # generated/torch.nn.SyncBatchNorm.html (class torch.nn.Module, class
        # torch.nn.SyncBatchNorm).
        Page(TORCH_GENERATED, 'torch.nn', ('Module', 'SyncBatchNorm')),
        # The stored _sources/generated/torch.nn.Module.rst.txt of that page: an
        # ``autoclass:: Module`` with ``:members:``, so the methods are anchored
        # there under their full names.
        Page('generated/torch.nn.Module', 'torch.nn', ('Module.state_dict',)),
        # docs/source/optim.md: autosummary of lr_scheduler.* (stored pages
        # generated/torch.optim.lr_scheduler.ReduceLROnPlateau.html and
        # generated/torch.optim.lr_scheduler.LRScheduler.html).
        Page(
            TORCH_GENERATED,
            'torch.optim.lr_scheduler',
            ('LRScheduler', 'ReduceLROnPlateau'),
        ),
        # docs/source/data.md: ``.. autoclass:: DataLoader`` and ``Dataset`` under
        # automodule torch.utils.data, and ``.. autoclass::
        # torch.utils.data.distributed.DistributedSampler`` (stored page
        # _sources/data.md.txt).
        Page('data', 'torch.utils.data', ('DataLoader', 'Dataset')),
        Page('data', 'torch.utils.data.distributed', ('DistributedSampler',)),
        # docs/source/random.md: automodule torch.random with members (stored page
        # random.html shows torch.random.fork_rng).
        Page('random', 'torch.random', ('fork_rng',)),
    ),
    namespaces=('torch', 'torch.nn', 'torch.utils.data'),
)

#: The inventories, by intersphinx name (``docs/_inventories/<name>.inv``).
PROJECTS = {
    'kornia': KORNIA,
    'lightning': LIGHTNING,
    'torch': TORCH,
    'torchgeo': TORCHGEO,
}

#: One inventory entry: name, role, priority, page, anchor.
Entry = tuple[str, str, int, str, str]


def member(module: str, name: str = '') -> Any:
    """The object of the installed packages that a module documents under a name.

    The name is looked up as attributes of the imported module, not imported
    itself: a function may share its name with the submodule that defines it
    (``torchgeo.models.earthloc``), and the module's namespace holds the function.

    Args:
        module: dotted name of an installed module.
        name: the documented name relative to *module* (dotted for methods);
            empty for the module itself.

    Returns:
        the object.

    Raises:
        SystemExit: if no installed object has that name.
    """
    try:
        obj: Any = importlib.import_module(module)
        for attribute in name.split('.') if name else []:
            obj = getattr(obj, attribute)
    except (ImportError, AttributeError):
        fullname = f'{module}.{name}' if name else module
        msg = f'{fullname} is documented but not installed: check the layout'
        raise SystemExit(msg) from None
    return obj


def entries(project: Project) -> Iterator[Entry]:
    """The inventory entries of one project, documented names first.

    Args:
        project: the project.

    Yields:
        name, role, priority, page and anchor of each entry.
    """
    documented: dict[str, tuple[Any, str, str]] = {}
    for page in project.pages:
        for name in page.names:
            fullname = f'{page.module}.{name}'
            documented[fullname] = (
                member(page.module, name),
                page.docname.format(fullname=fullname, name=name),
                fullname if page.anchored else '',
            )
    namespaces: list[ModuleType] = [
        importlib.import_module(name) for name in project.namespaces
    ]
    aliases: dict[str, tuple[str, str, str]] = {}
    for fullname, (obj, docname, anchor) in documented.items():
        if inspect.isclass(obj):
            role = 'py:class'
        elif inspect.isfunction(obj) and '.' in obj.__qualname__:
            role = 'py:method'  # a function defined in a class
        else:
            role = 'py:function'
        yield fullname, role, 1, docname, anchor
        short: str = obj.__name__
        # A builtin's qualified name is that of the C class that implements it
        # (torch._VariableFunctionsClass.argmax), no name a reference uses.
        names = (
            [] if inspect.isbuiltin(obj) else [f'{obj.__module__}.{obj.__qualname__}']
        )
        names += [
            f'{namespace.__name__}.{short}'
            for namespace in namespaces
            if getattr(namespace, short, None) is obj
        ]
        for alias in names:
            if alias not in documented:
                aliases.setdefault(alias, (role, docname, anchor))
    for alias, (role, docname, anchor) in aliases.items():
        yield alias, role, 1, docname, anchor
    for module, docname in project.modules.items():
        member(module)
        yield module, 'py:module', 1, docname, f'module-{module}'


def write(name: str, path: Path) -> None:
    """Write one project's inventory with Sphinx's inventory writer.

    Args:
        name: key of the project in :data:`PROJECTS`.
        path: the file to write.
    """
    project = PROJECTS[name]
    objects = [
        (fullname, fullname, role.split(':')[1], docname, anchor, priority)
        for fullname, role, priority, docname, anchor in entries(project)
    ]
    # The writer asks a build environment for the project, the version and the
    # objects of each domain, and the builder for the URI of each page.
    domain = SimpleNamespace(name='py', get_objects=lambda: objects)
    env = SimpleNamespace(
        config=SimpleNamespace(project=project.title, version=project.version),
        domains=SimpleNamespace(sorted=lambda: [domain]),
    )
    builder = SimpleNamespace(get_target_uri=lambda docname: f'{docname}.html')
    InventoryFile.dump(path, env, builder)  # type: ignore[arg-type]


def main(directory: Path = HERE) -> None:
    """Write every inventory of :data:`PROJECTS` into *directory*.

    Args:
        directory: where the ``<name>.inv`` files go.
    """
    for name, project in PROJECTS.items():
        path = directory / f'{name}.inv'
        write(name, path)
        print(f'wrote {path}, layout from {project.source}', file=sys.stderr)


if __name__ == '__main__':
    main()
