"""Batched GPU augmentation of multi-view batches ``[B, V, C, H, W]`` with Kornia."""

import contextlib
from collections.abc import Iterator

import kornia.augmentation as K
import numpy as np
import torch
from kornia.augmentation.container.params import ParamItem
from torch import Tensor, nn
from torchgeo.transforms import RandomGrayscale

#: Kornia augmentations that only make sense for 3-band (RGB) input.
_RGB_ONLY: tuple[type[K.AugmentationBase2D], ...] = (
    K.ColorJitter,
    K.ColorJiggle,
    K.RandomGrayscale,
    K.RandomHue,
    K.RandomSaturation,
)


class MultiViewAugmentation(nn.Module):
    """Augment every view of a multi-view batch in one batched Kornia call.

    The views ``[B, V, C, H, W]`` are flattened to ``[B * V, C, H, W]`` and passed
    through one :class:`kornia.augmentation.ImageSequential` on whatever device and
    dtype they are on, so that every view of every sample gets its own random
    parameters (each view is an independent draw, as in MoCo, GASSL and SeCo). With
    ``share_geometry=True`` the geometric augmentations (subclasses of
    :class:`kornia.augmentation.GeometricAugmentationBase2D`: crops, flips, ...)
    draw one set of parameters per sample that all of its V views reuse (same crop
    box, same flip), while intensity augmentations stay independent per view. This
    is done with Kornia's parameter forwarding: the parameters of each geometric
    augmentation are drawn for ``B`` samples and repeated over the views before the
    single call.

    The forward pass runs under :class:`torch.no_grad` (augmentation is data
    preparation inside a task's training step): the output never tracks gradients.
    It also runs outside any :func:`torch.autocast` region, in the input's dtype:
    under a trainer's ``precision='bf16-mixed'`` the training step is autocast,
    which would otherwise run the blur's convolution and the crop's resampling in
    bfloat16 and change the augmentation with the precision of the model.
    Inputs must be floating point and should be normalised (e.g. reflectance or
    RGB values roughly in ``[0, 1]``; Kornia's colour jitter clamps to that range).

    With ``seed`` set, call ``n`` (counted from 0 by :attr:`calls`) draws all its
    random numbers from generators seeded with a value derived from
    ``(seed, n)`` inside :func:`torch.random.fork_rng`, so the global RNG state is
    left untouched and two modules built alike with the same seed produce the same
    outputs for the same inputs. The call counter is a plain attribute, not part of
    the ``state_dict``. Results are only reproducible on the same device and dtype.

    .. versionadded:: 0.1

    .. versionchanged:: 0.2
       Autocast is disabled during the augmentation.
    """

    def __init__(
        self,
        *augmentations: K.AugmentationBase2D,
        share_geometry: bool = False,
        seed: int | None = None,
        in_channels: int | None = None,
    ) -> None:
        """Initialize a new MultiViewAugmentation instance.

        Args:
            *augmentations: Kornia 2D augmentations (instances of
                :class:`kornia.augmentation.AugmentationBase2D`, which includes
                TorchGeo's :class:`~torchgeo.transforms.RandomGrayscale`), applied in
                order.
            share_geometry: Give all views of a sample the same geometric parameters
                (intensity parameters stay independent per view).
            seed: Seed of a deterministic per-call random stream; None uses the
                global RNG like any Kornia augmentation.
            in_channels: Number of channels the input must have; None accepts any.

        Raises:
            ValueError: If no augmentation is given, if *in_channels* is not
                positive, if an augmentation does not fit *in_channels* (RGB-only
                ops with other than 3 channels, grayscale weights of another length)
                or if *seed* is negative.
            TypeError: If an augmentation is not a Kornia 2D augmentation.
        """
        super().__init__()
        if not augmentations:
            raise ValueError('MultiViewAugmentation needs at least one augmentation')
        for aug in augmentations:
            if not isinstance(aug, K.AugmentationBase2D):
                raise TypeError(
                    'MultiViewAugmentation takes Kornia 2D augmentations '
                    '(kornia.augmentation.AugmentationBase2D subclasses), got '
                    f'{type(aug).__name__}'
                )
        if in_channels is not None:
            if in_channels < 1:
                raise ValueError(f'in_channels must be positive, got {in_channels}')
            for aug in augmentations:
                _check_channels(aug, in_channels)
        if seed is not None and seed < 0:
            raise ValueError(f'seed must be a non-negative integer, got {seed}')
        self.share_geometry = share_geometry
        self.seed = seed
        self.in_channels = in_channels
        #: Number of forward calls so far (indexes the seeded random stream).
        self.calls = 0
        self.augmentations = K.ImageSequential(*augmentations)

    def extra_repr(self) -> str:
        """Summary of the options, shown by :func:`repr`.

        Returns:
            The options as ``name=value`` pairs.
        """
        return (
            f'in_channels={self.in_channels}, share_geometry={self.share_geometry}, '
            f'seed={self.seed}'
        )

    def forward(self, x: Tensor) -> Tensor:
        """Augment a batch of views.

        Args:
            x: Views ``[B, V, C, H, W]`` or images ``[B, C, H, W]`` (one view),
                floating point, on any device.

        Returns:
            The augmented batch, same rank, device and dtype as *x*; ``H`` and ``W``
            may change (crops resize to their output size).

        Raises:
            ValueError: If *x* is not 4- or 5-dimensional, its channel count does
                not match :attr:`in_channels`, or a Gaussian blur kernel does not
                fit the images it would blur (Kornia's reflect padding needs a side
                larger than half the kernel).
            TypeError: If *x* is not floating point.
        """
        if x.ndim not in (4, 5):
            raise ValueError(
                'MultiViewAugmentation expects a [B, V, C, H, W] or [B, C, H, W] '
                f'tensor, got {x.ndim} dimensions (shape {tuple(x.shape)})'
            )
        if not x.is_floating_point():
            raise TypeError(
                f'MultiViewAugmentation expects a floating point tensor, got {x.dtype}; '
                'convert and normalise the images first'
            )
        channels = x.shape[-3]
        if self.in_channels is not None and channels != self.in_channels:
            raise ValueError(
                f'MultiViewAugmentation was built for in_channels={self.in_channels} '
                f'but the input has {channels} channels (shape {tuple(x.shape)})'
            )
        self._check_blur_fits(x.shape[-2], x.shape[-1])
        batch = x.shape[0]
        views = x.shape[1] if x.ndim == 5 else 1
        flat = x.reshape(batch * views, *x.shape[-3:])
        call = self.calls
        self.calls += 1
        no_autocast = (
            torch.autocast(x.device.type, enabled=False)
            if torch.amp.is_autocast_available(x.device.type)
            else contextlib.nullcontext()
        )
        with torch.no_grad(), no_autocast:
            if self.seed is None:
                out = self._augment(flat, batch, views)
            else:
                devices = self._cuda_devices(x)
                state = np.random.SeedSequence((self.seed, call)).generate_state(
                    1, np.uint64
                )
                with torch.random.fork_rng(devices=devices):
                    torch.default_generator.manual_seed(int(state[0]))
                    for index in devices:
                        with torch.cuda.device(index):
                            torch.cuda.manual_seed(int(state[0]))
                    out = self._augment(flat, batch, views)
        out = out.to(x.dtype)
        if x.ndim == 5:
            return out.reshape(batch, views, *out.shape[1:])
        return out

    def _check_blur_fits(self, height: int, width: int) -> None:
        """Refuse a blur kernel that does not fit the images it would blur.

        Follows the image size through the augmentations (crops and resizes set
        it to their output ``size``).

        Args:
            height: Height of the input images.
            width: Width of the input images.

        Raises:
            ValueError: If a Gaussian blur's kernel needs more pixels than the
                images have at its position, naming the kernel and the size.
        """
        for aug in self._kornia_augmentations():
            size = aug.flags.get('size') if isinstance(aug.flags, dict) else None
            if isinstance(aug, K.GeometricAugmentationBase2D) and size is not None:
                height, width = (size, size) if isinstance(size, int) else size
            if isinstance(aug, K.RandomGaussianBlur):
                kernel = aug.flags['kernel_size']
                kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
                if kh // 2 >= height or kw // 2 >= width:
                    raise ValueError(
                        f'the Gaussian blur kernel {kh}x{kw} does not fit '
                        f'{height}x{width} px images: Kornia pads by reflection, '
                        f'which needs a side of at least {kh // 2 + 1}x{kw // 2 + 1} '
                        'px; use larger images or crops, or pass a smaller odd '
                        'blur_kernel to the augmentation preset (it then truncates '
                        'the largest sigma)'
                    )

    def _augment(self, flat: Tensor, batch: int, views: int) -> Tensor:
        """Run the augmentations on the flattened views.

        Args:
            flat: Views flattened to ``[B * V, C, H, W]``.
            batch: Number of samples ``B``.
            views: Number of views ``V`` per sample.

        Returns:
            The augmented ``[B * V, C, H', W']`` tensor.
        """
        if not self.share_geometry or views == 1:
            out: Tensor = self.augmentations(flat)
            return out
        modules = dict(self.augmentations.named_children())
        params = self.augmentations.forward_parameters(flat.shape)
        shared: list[ParamItem] = []
        for item in params:
            module = modules[item.name]
            if isinstance(module, K.GeometricAugmentationBase2D) and isinstance(
                item.data, dict
            ):
                item = ParamItem(
                    item.name, _share_over_views(module, item.data, batch, views)
                )
            shared.append(item)
        shared_out: Tensor = self.augmentations(flat, params=shared)
        return shared_out

    def _cuda_devices(self, x: Tensor) -> list[int]:
        """CUDA devices whose RNG this module may draw from.

        Args:
            x: The input batch.

        Returns:
            Sorted indices of the CUDA devices of *x* and of the augmentations'
            parameter generators.
        """
        devices = {x.device}
        devices.update(
            aug.device
            for aug in self._kornia_augmentations()
            if isinstance(aug.device, torch.device)
        )
        return sorted(
            torch.cuda.current_device() if d.index is None else d.index
            for d in devices
            if d.type == 'cuda'
        )

    def _kornia_augmentations(self) -> Iterator[K.AugmentationBase2D]:
        """The wrapped augmentations.

        Yields:
            Every wrapped Kornia augmentation, in order.
        """
        for module in self.augmentations.children():
            if isinstance(module, K.AugmentationBase2D):
                yield module


def _check_channels(aug: K.AugmentationBase2D, in_channels: int) -> None:
    """Check that an augmentation works on *in_channels* bands.

    Args:
        aug: A Kornia 2D augmentation.
        in_channels: The number of input channels.

    Raises:
        ValueError: If *aug* is RGB-only and *in_channels* is not 3, or if it is a
            TorchGeo RandomGrayscale whose weights have another length.
    """
    if isinstance(aug, RandomGrayscale):
        weights = aug.flags['weights']
        if weights.numel() != in_channels:
            raise ValueError(
                f'RandomGrayscale has {weights.numel()} band weights but '
                f'in_channels={in_channels}'
            )
    elif isinstance(aug, _RGB_ONLY) and in_channels != 3:
        raise ValueError(
            f'{type(aug).__name__} only works on RGB (3-channel) input, got '
            f'in_channels={in_channels}'
        )


def _share_over_views(
    module: K.AugmentationBase2D, drawn: dict[str, Tensor], batch: int, views: int
) -> dict[str, Tensor]:
    """Redraw one augmentation's parameters once per sample and repeat them per view.

    Args:
        module: The augmentation.
        drawn: Its parameters drawn independently for all ``B * V`` views.
        batch: Number of samples ``B``.
        views: Number of views ``V`` per sample (> 1).

    Returns:
        Parameters for ``B * V`` views in which the views of each sample agree.
        Tensors without a per-image leading axis (e.g. the input shape) are kept
        from *drawn*.
    """
    input_shape = tuple(int(n) for n in drawn['forward_input_shape'].tolist())
    per_sample = module.forward_parameters(torch.Size((batch, *input_shape[1:])))
    params = dict(drawn)
    for key, value in per_sample.items():
        flat = drawn.get(key)
        if (
            flat is not None
            and value.ndim > 0
            and flat.ndim > 0
            and value.shape[0] == batch
            and flat.shape[0] == batch * views
        ):
            params[key] = value.repeat_interleave(views, dim=0)
    return params
