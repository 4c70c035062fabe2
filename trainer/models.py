"""The two model families of the spec: an MLP (no hidden layer = a linear model) and a small CNN.

Every activation is its own module so the instrumentation can hook it and see pre-activations
(its input) and activations (its output) without the models knowing about it.
"""

from __future__ import annotations

from torch import Tensor, nn

from trainwell.spec import ModelSpec

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
}


def build_model(
    spec: ModelSpec, input_dim: int, output_dim: int, image_shape: tuple[int, int, int] | None
) -> nn.Module:
    if spec.kind == "cnn":
        if image_shape is None:
            raise ValueError("model kind 'cnn' needs image-shaped data")
        return ConvNet(spec, image_shape, output_dim)
    return nn.Sequential(*mlp_layers(spec, input_dim, output_dim))


def mlp_layers(spec: ModelSpec, input_dim: int, output_dim: int) -> list[nn.Module]:
    layers: list[nn.Module] = []
    width = input_dim
    for hidden in spec.hidden:
        layers.append(nn.Linear(width, hidden))
        layers.extend(_norm_and_activation(spec, hidden, nn.BatchNorm1d, nn.LayerNorm))
        if spec.dropout > 0:
            layers.append(nn.Dropout(spec.dropout))
        width = hidden
    layers.append(nn.Linear(width, output_dim))
    return layers


def _norm_and_activation(
    spec: ModelSpec, width: int, batch_norm: type[nn.Module], layer_norm: type[nn.Module]
) -> list[nn.Module]:
    activation = ACTIVATIONS[spec.activation]()
    if spec.norm == "none":
        return [activation]
    norm = batch_norm(width) if spec.norm == "batch" else layer_norm(width)
    return [norm, activation] if spec.norm_position == "before_activation" else [activation, norm]


class _ChannelLayerNorm(nn.GroupNorm):
    """Layer norm for feature maps: one group normalizes over channels, height and width together."""

    def __init__(self, channels: int) -> None:
        super().__init__(1, channels)


class ConvNet(nn.Module):
    """3×3 convolutions (same padding, one per entry of `channels`), then the MLP head of `hidden`.

    Rows arrive flat (the data path is the same for every model) and are reshaped to images here.
    No pooling: the images of the built-in dataset are 8×8, small enough to flatten as they are.
    """

    def __init__(self, spec: ModelSpec, image_shape: tuple[int, int, int], output_dim: int) -> None:
        super().__init__()
        self.image_shape = image_shape
        in_channels, height, width = image_shape
        layers: list[nn.Module] = []
        for channels in spec.channels:
            layers.append(nn.Conv2d(in_channels, channels, kernel_size=3, padding=1))
            layers.extend(_norm_and_activation(spec, channels, nn.BatchNorm2d, _ChannelLayerNorm))
            in_channels = channels
        layers.append(nn.Flatten())
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(*mlp_layers(spec, in_channels * height * width, output_dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x.view(-1, *self.image_shape)))
