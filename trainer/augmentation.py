"""Training-time augmentation, applied to each batch on the device: Gaussian feature noise and ±1-pixel shifts."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from trainwell.spec import Augmentation

Augment = Callable[[Tensor], Tensor]


def build_augmentation(spec: Augmentation, image_shape: tuple[int, int, int] | None) -> Augment | None:
    """The batch transform of the spec, or None when there is nothing to do (the loop then skips the call)."""
    steps: list[Augment] = []
    if spec.pixel_shift and image_shape is not None:
        steps.append(lambda x: shift_pixels(x, image_shape))
    if spec.gaussian_noise > 0:
        std = spec.gaussian_noise
        # features are already normalized, so one std fits every feature
        steps.append(lambda x: x + std * torch.randn_like(x))
    if not steps:
        return None

    def augment(x: Tensor) -> Tensor:
        for step in steps:
            x = step(x)
        return x

    return augment


def shift_pixels(x: Tensor, image_shape: tuple[int, int, int]) -> Tensor:
    """Move each image by an independent random offset in {-1, 0, 1}² (edge pixels are replicated)."""
    channels, height, width = image_shape
    images = F.pad(x.view(-1, channels, height, width), (1, 1, 1, 1), mode="replicate")
    n = images.shape[0]
    offsets = torch.randint(0, 3, (n, 2), device=x.device)
    rows = (offsets[:, :1] + torch.arange(height, device=x.device)).view(n, 1, height, 1)
    cols = (offsets[:, 1:] + torch.arange(width, device=x.device)).view(n, 1, 1, width)
    batch = torch.arange(n, device=x.device).view(n, 1, 1, 1)
    channel = torch.arange(channels, device=x.device).view(1, channels, 1, 1)
    return images[batch, channel, rows, cols].reshape(n, -1)
