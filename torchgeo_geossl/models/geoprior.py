r"""Fusion of an image classifier with a geographical prior.

The prediction of Mac Aodha et al. (ICCV 2019, arXiv 1906.05272) and of CSP's
downstream evaluation (Mai et al., ICML 2023) multiplies the image classifier's
probabilities with the prior's per-class presence probabilities at the image's
location: :math:`\hat{y} = \arg\max_y P(y \mid I)\, \sigma(W_y^\top e(x))`.
"""

import torch
from torch import Tensor, nn


class GeoPriorFusion(nn.Module):
    r"""Combine image-classifier probabilities with a location prior.

    *prior* maps points ``[N, 2]`` (``(lon, lat)`` in degrees) to class logits
    :math:`W_y^\top e(x)` ``[N, K]``, e.g. a trained
    :class:`~torchgeo_geossl.trainers.GeoPriorTask`. For images with a location
    the fused score is :math:`P(y \mid I)\, \sigma(W_y^\top e(x))`; images without
    one (``valid`` False, or a non-finite point) keep :math:`P(y \mid I)`. The
    prior is only evaluated at valid points, and always in evaluation mode
    (no dropout): :meth:`train` leaves it in eval mode.

    The image scores may be probabilities (softmax output) or, with
    ``from_logits=True``, the logits of any classifier, e.g. TorchGeo's
    :class:`~torchgeo.tasks.Classification`, which are passed through a softmax.

    .. versionadded:: 0.1
    """

    def __init__(self, prior: nn.Module, from_logits: bool = False) -> None:
        """Initialize a new GeoPriorFusion instance.

        Args:
            prior: Module mapping points ``[N, 2]`` to class logits ``[N, K]``.
            from_logits: Whether the image scores given to :meth:`forward` are
                logits (a softmax is applied) instead of probabilities.
        """
        super().__init__()
        self.prior = prior
        self.from_logits = from_logits
        self.prior.eval()

    def train(self, mode: bool = True) -> 'GeoPriorFusion':
        """Keep the prior in evaluation mode whatever *mode* is.

        Args:
            mode: Ignored for the prior; the fusion has nothing to train.

        Returns:
            This module.
        """
        super().train(mode)
        self.prior.eval()
        return self

    def location_probabilities(
        self, points: Tensor, valid: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        r"""Evaluate :math:`\sigma(W_y^\top e(x))` where a location is known.

        Args:
            points: ``[B, 2]`` ``(lon, lat)`` in degrees; rows of images without a
                location may hold anything (e.g. NaN) when *valid* marks them.
            valid: Optional boolean ``[B]``, False for images without a location.

        Returns:
            The prior probabilities ``[B, K]`` (ones in rows without a location)
            and the boolean ``[B]`` of rows where the prior was used.

        Raises:
            ValueError: If *points* is not ``[B, 2]``, *valid* is not a boolean
                ``[B]``, or the prior's output is not ``[N, K]``.
        """
        if points.ndim != 2 or points.shape[1] != 2:
            msg = (
                'GeoPriorFusion expects points [B, 2] as (lon, lat) in degrees, got '
                f'{list(points.shape)}'
            )
            raise ValueError(msg)
        batch = points.shape[0]
        known = torch.isfinite(points).all(dim=1)
        if valid is not None:
            if valid.shape != (batch,) or valid.dtype != torch.bool:
                msg = (
                    f'GeoPriorFusion expects valid as a boolean mask [B] = [{batch}], '
                    f'got {valid.dtype} {list(valid.shape)}'
                )
                raise ValueError(msg)
            known = known & valid.to(known.device)
        with torch.no_grad():
            logits: Tensor = self.prior(points[known])
            if logits.ndim != 2 or logits.shape[0] != int(known.sum()):
                msg = (
                    f'The prior of GeoPriorFusion must map [N, 2] points to logits '
                    f'[N, K]; for N = {int(known.sum())} it returned '
                    f'{list(logits.shape)}'
                )
                raise ValueError(msg)
            probs = logits.new_ones(batch, logits.shape[1])
            probs[known] = torch.sigmoid(logits)
        return probs, known

    def forward(
        self, image_scores: Tensor, points: Tensor, valid: Tensor | None = None
    ) -> Tensor:
        r"""Fused scores :math:`P(y \mid I)\, \sigma(W_y^\top e(x))`.

        Args:
            image_scores: The image classifier's probabilities ``[B, K]`` (logits
                with ``from_logits=True``).
            points: ``[B, 2]`` ``(lon, lat)`` in degrees of the images.
            valid: Optional boolean ``[B]``, False for images without a location;
                non-finite points count as missing too.

        Returns:
            Scores ``[B, K]``: the product in rows with a location, the image
            probabilities in the others (not renormalised).

        Raises:
            ValueError: If the shapes disagree, or probabilities are negative or
                not finite (pass ``from_logits=True`` for logits).
        """
        if image_scores.ndim != 2 or image_scores.shape[0] != points.shape[0]:
            msg = (
                f'GeoPriorFusion expects image scores [B, K] with B = '
                f'{points.shape[0]} (the number of points), got '
                f'{list(image_scores.shape)}'
            )
            raise ValueError(msg)
        if self.from_logits:
            image_probs = torch.softmax(image_scores, dim=1)
        else:
            if not bool(torch.isfinite(image_scores).all()) or bool(
                (image_scores < 0).any()
            ):
                msg = (
                    'GeoPriorFusion expects image probabilities (finite, >= 0); got '
                    f'values in [{float(image_scores.min())}, '
                    f'{float(image_scores.max())}]: pass from_logits=True for logits'
                )
                raise ValueError(msg)
            image_probs = image_scores
        prior, _ = self.location_probabilities(points, valid)
        if prior.shape[1] != image_probs.shape[1]:
            msg = (
                f'The image classifier has {image_probs.shape[1]} classes but the '
                f'location prior has {prior.shape[1]}'
            )
            raise ValueError(msg)
        return image_probs * prior.to(image_probs)

    def predict(
        self, image_scores: Tensor, points: Tensor, valid: Tensor | None = None
    ) -> Tensor:
        """Predicted classes, the argmax of :meth:`forward`.

        Args:
            image_scores: The image classifier's probabilities ``[B, K]`` (logits
                with ``from_logits=True``).
            points: ``[B, 2]`` ``(lon, lat)`` in degrees of the images.
            valid: Optional boolean ``[B]``, False for images without a location.

        Returns:
            Class indices ``[B]``.
        """
        return self.forward(image_scores, points, valid).argmax(dim=1)
