r"""The CSP objectives and random locations on the sphere.

Contrastive Spatial Pre-training (CSP, Mai et al., ICML 2023, arXiv 2305.01118,
Sec. 3-4) trains a location encoder e against an image encoder f with three
softmax cross-entropies over cosine similarities ("MC-BLD"):

* :class:`InBatchLocationImageLoss` (B): location i against all images of the batch;
* :class:`RandomLocationLoss` (L): image i against its own location and locations
  drawn at random on the sphere (:func:`sample_uniform_sphere`);
* :class:`SimCSELoss` (D): two dropout passes of the same location are positives,
  the other locations of the batch negatives.

The total is :math:`\mathcal{L} = \mathcal{L}_B + w_L \mathcal{L}_L + w_D
\mathcal{L}_D`. As in the reference code (gengchenmai/csp, ``contsoftmax``), the
similarities are *divided* by each objective's temperature; its published runs use
τ_B = 20 and τ_L = τ_D = 1, so the in-batch logits lie in [−0.05, 0.05] and the
in-batch term is almost flat (its loss stays near log B). These are the defaults
here, for faithfulness; a learnable logit scale (CLIP) and the symmetric in-batch
loss are options, off by default.

Under :mod:`torch.distributed` (DDP), the in-batch objectives B and D contrast each
process's rows against the candidates of *all* processes, gathered with gradient
(:func:`~torchgeo_geossl.models.gather_with_grad`): with equal batches
on the W processes, the mean of their losses and the DDP-averaged gradients equal
those of one process computing the loss of the concatenated global batch. L has no
in-batch terms (each sample has its own random locations) and gathers nothing.
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..models.distributed import gather_with_grad


def sample_uniform_sphere(
    n: int,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
    legacy: bool = False,
) -> Tensor:
    r"""Draw random locations on the sphere as (lon, lat) in degrees.

    By default the draw is uniform on the sphere: lon ~ U(−180, 180) and
    lat = asin(u) with u ~ U(−1, 1), because the area of the sphere north of a
    latitude φ is proportional to 1 − sin φ (Archimedes), so sin(lat) must be
    uniform.

    ``legacy=True`` reproduces the ``sphericalold`` sampler of the CSP reference
    code, used in all of its published runs, which is *not* uniform on the sphere:
    with z, a ~ U(−1, 1) and θ = π(a + 1), it takes
    lon = 180 · √(1 − z²) · cos θ and lat = 90 · √(1 − z²) · sin θ. That is the
    x and y coordinates of a uniform point on the unit sphere, stretched to
    degrees. Each is uniform on [−1, 1] (Archimedes), so lon is uniform and lat is
    uniform in degrees (too many polar samples: sin(lat) is not uniform), and the
    pair lies inside the ellipse (lon/180)² + (lat/90)² ≤ 1: the corners of the
    map, such as (170°, 80°), are never drawn, and near the dateline latitudes
    squeeze towards the equator. The reference's default ``spherical``
    sampler is not offered: it discards its own result and returns
    lon ∈ [0, 180], lat ∈ [0, 90].

    Args:
        n: Number of locations, ≥ 0.
        generator: Random number generator (None: torch's global one).
        device: Device of the result.
        dtype: Floating-point dtype of the result (None: the default dtype).
        legacy: Use the reference code's non-uniform ``sphericalold`` sampler.

    Returns:
        Locations ``[n, 2]``, (lon, lat) in degrees, lon ∈ [−180, 180),
        lat ∈ [−90, 90].

    Raises:
        ValueError: If *n* is negative or *dtype* is not a floating-point dtype.

    .. versionadded:: 0.1
    """
    if n < 0:
        msg = f'the number of random locations must be ≥ 0, got {n}'
        raise ValueError(msg)
    dtype = dtype or torch.get_default_dtype()
    if not dtype.is_floating_point:
        msg = f'random locations need a floating-point dtype, got {dtype}'
        raise ValueError(msg)
    if generator is not None and device is None:
        device = generator.device
    u = torch.rand(n, 2, generator=generator, device=device, dtype=dtype)
    if legacy:
        z = 2 * u[:, 0] - 1
        theta = 2 * math.pi * u[:, 1]
        radius = torch.sqrt(1 - z**2)
        lon = 180 * radius * torch.cos(theta)
        lat = 90 * radius * torch.sin(theta)
    else:
        lon = 360 * u[:, 0] - 180
        lat = torch.rad2deg(torch.asin((2 * u[:, 1] - 1).clamp(-1, 1)))
    return torch.stack([lon, lat], dim=1)


def diagonal_top1_accuracy(logits: Tensor) -> Tensor:
    """Fraction of rows whose largest logit is on the diagonal (in-batch retrieval).

    Args:
        logits: Similarities ``[N, M]``, M ≥ N, whose positive of row i is column
            i, such as those of :class:`InBatchLocationImageLoss` (row i: location
            i against every image of the batch, on one process ``[N, N]``; under
            DDP the other processes' images follow in columns N to M).

    Returns:
        A scalar float tensor in [0, 1], without gradient.

    Raises:
        ValueError: If *logits* is not a non-empty ``[N, M]`` matrix with M ≥ N.

    .. versionadded:: 0.1
    """
    if logits.ndim != 2 or logits.shape[1] < logits.shape[0] or not len(logits):
        msg = (
            'diagonal_top1_accuracy expects logits [N, M] with M ≥ N (positive of '
            f'row i in column i), got {list(logits.shape)}'
        )
        raise ValueError(msg)
    target = torch.arange(len(logits), device=logits.device)
    return (logits.detach().argmax(dim=1) == target).float().mean()


def _check_pair(name: str, first: Tensor, second: Tensor) -> None:
    """Check two embedding batches ``[B, D]`` of one shape.

    Args:
        name: Name of the loss, for the message.
        first: First batch.
        second: Second batch.

    Raises:
        ValueError: If either is not ``[B, D]`` with B ≥ 1, or the shapes differ.
    """
    if first.ndim != 2 or first.shape[0] == 0 or first.shape != second.shape:
        msg = (
            f'{name} needs two embedding batches of one shape [B, D] with B ≥ 1, '
            f'got {list(first.shape)} and {list(second.shape)}'
        )
        raise ValueError(msg)


class ContrastiveObjective(nn.Module):
    r"""Base of the CSP objectives: the temperature or a learnable logit scale.

    Logits are cosine similarities times :meth:`scale`: :math:`1/\tau` with a fixed
    temperature τ (the reference divides by τ), or with ``learnable_scale=True``
    :math:`\exp(s)` for a parameter s initialised to :math:`\log(1/\tau)` and capped
    at 100, as in CLIP (Radford et al., 2021).

    .. versionadded:: 0.1
    """

    #: Upper bound of a learnable logit scale (CLIP's).
    max_scale = 100.0

    def __init__(self, temperature: float, learnable_scale: bool = False) -> None:
        """Initialize a new ContrastiveObjective instance.

        Args:
            temperature: Temperature τ dividing the cosine similarities (or the
                initial 1/scale when learnable).
            learnable_scale: Learn the logit scale instead of fixing it.

        Raises:
            ValueError: If *temperature* is not a finite positive number, or is
                below ``1 / max_scale`` with a learnable scale.
        """
        super().__init__()
        valid = isinstance(temperature, int | float) and not isinstance(
            temperature, bool
        )
        if not valid or not math.isfinite(temperature) or temperature <= 0:
            msg = (
                f'{type(self).__name__} temperature must be a finite positive '
                f'number, got {temperature!r}'
            )
            raise ValueError(msg)
        if learnable_scale and 1 / temperature > self.max_scale:
            msg = (
                f'{type(self).__name__} with learnable_scale caps the scale at '
                f'{self.max_scale}, so the temperature must be ≥ '
                f'{1 / self.max_scale}, got {temperature}'
            )
            raise ValueError(msg)
        self.temperature = float(temperature)
        self.learnable_scale = learnable_scale
        self.logit_scale = (
            nn.Parameter(torch.tensor(math.log(1 / temperature)))
            if learnable_scale
            else None
        )

    def scale(self) -> Tensor:
        """The factor multiplying the cosine similarities.

        Returns:
            A scalar tensor: ``1 / temperature``, or ``exp(logit_scale)`` capped at
            :attr:`max_scale`.
        """
        if self.logit_scale is None:
            return torch.tensor(1 / self.temperature, dtype=torch.float64)
        return self.logit_scale.exp().clamp(max=self.max_scale)

    def extra_repr(self) -> str:
        """Summary shown by ``repr``.

        Returns:
            The temperature and whether the scale is learnt.
        """
        return f'temperature={self.temperature}, learnable_scale={self.learnable_scale}'


class InBatchLocationImageLoss(ContrastiveObjective):
    r"""CSP's in-batch objective :math:`\mathcal{L}_B`: location i against all images.

    With L2-normalised location embeddings :math:`e_i` and image embeddings
    :math:`f_j` of a batch of B pairs:

    .. math::

        \mathcal{L}_B = -\frac{1}{B} \sum_i \log
            \frac{\exp(e_i \cdot f_i / \tau_B)}{\sum_j \exp(e_i \cdot f_j / \tau_B)}

    (reference ``contsoftmax``). With ``symmetric=True`` the image-to-location
    cross-entropy (rows :math:`f_i` against all :math:`e_j`) is *added*, as the
    reference's ``contsoftmaxsym`` does (CLIP averages the two instead).

    Under :mod:`torch.distributed`, j runs over the images of all processes
    (gathered with gradient, this process's first) and i over this process's
    locations; with ``symmetric=True`` the locations are gathered too.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        temperature: float = 20.0,
        symmetric: bool = False,
        learnable_scale: bool = False,
    ) -> None:
        """Initialize a new InBatchLocationImageLoss instance.

        Args:
            temperature: Temperature τ_B dividing the similarities (20 in every
                published CSP run, which makes the term almost flat).
            symmetric: Add the image-to-location direction.
            learnable_scale: Learn the logit scale, initialised to 1/τ_B.
        """
        super().__init__(temperature, learnable_scale)
        self.symmetric = symmetric

    def forward(self, location: Tensor, image: Tensor) -> tuple[Tensor, Tensor]:
        """Compute the loss and the location-to-image logits.

        Args:
            location: Location embeddings ``[B, D]`` (L2-normalised here).
            image: Image embeddings ``[B, D]`` of the same samples.

        Returns:
            ``(loss, logits)``: the scalar loss and the logits ``[B, M]``, row i
            location i against every image, positives on the diagonal (M = B on
            one process; under DDP the M − B images of the other processes
            follow).

        Raises:
            ValueError: If the shapes are not two equal ``[B, D]``.
        """
        _check_pair(type(self).__name__, location, image)
        location = F.normalize(location, dim=1)
        image = F.normalize(image, dim=1)
        scale = self.scale().to(location)
        logits = location @ gather_with_grad(image, local_first=True).T * scale
        target = torch.arange(len(logits), device=logits.device)
        loss = F.cross_entropy(logits, target)
        if self.symmetric:
            locations = gather_with_grad(location, local_first=True)
            loss = loss + F.cross_entropy(image @ locations.T * scale, target)
        return loss, logits

    def extra_repr(self) -> str:
        """Summary shown by ``repr``.

        Returns:
            The temperature, the scale and the symmetric flag.
        """
        return f'{super().extra_repr()}, symmetric={self.symmetric}'


class RandomLocationLoss(ContrastiveObjective):
    r"""CSP's random-location objective :math:`\mathcal{L}_L`.

    Image i (embedding :math:`f_i`) must pick its own location :math:`e_i` among
    its own N random locations :math:`e^-_{i1}, \dots, e^-_{iN}` drawn on the
    sphere (:func:`sample_uniform_sphere`):

    .. math::

        \mathcal{L}_L = -\frac{1}{B} \sum_i \log
            \frac{\exp(f_i \cdot e_i / \tau_L)}
            {\exp(f_i \cdot e_i / \tau_L) + \sum_{n=1}^{N} \exp(f_i \cdot e^-_{in} / \tau_L)}

    Every sample has its own negatives (the reference draws B·N locations per
    batch, N = 1 in its runs); they are not shared across the batch, so nothing is
    gathered under DDP. Gradients flow into the random locations' embeddings too:
    the location encoder learns to push them away from the image.

    .. versionadded:: 0.1
    """

    def __init__(self, temperature: float = 1.0, learnable_scale: bool = False) -> None:
        """Initialize a new RandomLocationLoss instance.

        Args:
            temperature: Temperature τ_L dividing the similarities (1 in the
                published CSP runs).
            learnable_scale: Learn the logit scale, initialised to 1/τ_L.
        """
        super().__init__(temperature, learnable_scale)

    def forward(
        self, image: Tensor, location: Tensor, random_locations: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Compute the loss and the logits.

        Args:
            image: Image embeddings ``[B, D]`` (L2-normalised here).
            location: Embeddings ``[B, D]`` of each image's own location.
            random_locations: Embeddings ``[B, N, D]`` of N random locations per
                image, N ≥ 1.

        Returns:
            ``(loss, logits)``: the scalar loss and the logits ``[B, 1 + N]``,
            the own location in column 0.

        Raises:
            ValueError: If a shape is wrong, naming the shapes received.
        """
        _check_pair(type(self).__name__, image, location)
        b, d = image.shape
        if (
            random_locations.ndim != 3
            or random_locations.shape[0] != b
            or random_locations.shape[2] != d
            or random_locations.shape[1] == 0
        ):
            msg = (
                f'{type(self).__name__} random_locations must be [B, N, D] = '
                f'[{b}, N ≥ 1, {d}] for embeddings {list(image.shape)}, got '
                f'{list(random_locations.shape)}'
            )
            raise ValueError(msg)
        image = F.normalize(image, dim=1)
        location = F.normalize(location, dim=1)
        random_locations = F.normalize(random_locations, dim=2)
        positive = (image * location).sum(dim=1, keepdim=True)
        negative = torch.einsum('bd,bnd->bn', image, random_locations)
        logits = torch.cat([positive, negative], dim=1) * self.scale().to(image)
        target = torch.zeros(b, dtype=torch.long, device=logits.device)
        return F.cross_entropy(logits, target), logits


class SimCSELoss(ContrastiveObjective):
    r"""CSP's SimCSE objective :math:`\mathcal{L}_D` (Gao et al., EMNLP 2021).

    Two forward passes of the same locations through the location encoder differ
    only by their dropout masks, :math:`e_i` and :math:`e'_i`; each is the
    other's positive and the other locations of the batch are negatives:

    .. math::

        \mathcal{L}_D = -\frac{1}{B} \sum_i \log
            \frac{\exp(e_i \cdot e'_i / \tau_D)}{\sum_j \exp(e_i \cdot e'_j / \tau_D)}

    (one direction, as the reference code). Under :mod:`torch.distributed`, j runs
    over the second-pass embeddings of all processes (gathered with gradient, this
    process's first) and i over this process's locations.

    .. versionadded:: 0.1
    """

    def __init__(self, temperature: float = 1.0, learnable_scale: bool = False) -> None:
        """Initialize a new SimCSELoss instance.

        Args:
            temperature: Temperature τ_D dividing the similarities (1 in the
                published CSP runs).
            learnable_scale: Learn the logit scale, initialised to 1/τ_D.
        """
        super().__init__(temperature, learnable_scale)

    def forward(self, first: Tensor, second: Tensor) -> tuple[Tensor, Tensor]:
        """Compute the loss and the logits.

        Args:
            first: Location embeddings ``[B, D]`` of a first pass (L2-normalised
                here).
            second: Embeddings ``[B, D]`` of the same locations from a second pass.

        Returns:
            ``(loss, logits)``: the scalar loss and the logits ``[B, M]``,
            positives on the diagonal (M = B on one process; under DDP the
            M − B embeddings of the other processes follow).

        Raises:
            ValueError: If the shapes are not two equal ``[B, D]``.
        """
        _check_pair(type(self).__name__, first, second)
        first = F.normalize(first, dim=1)
        second = F.normalize(gather_with_grad(second, local_first=True), dim=1)
        logits = first @ second.T * self.scale().to(first)
        target = torch.arange(len(logits), device=logits.device)
        return F.cross_entropy(logits, target), logits
