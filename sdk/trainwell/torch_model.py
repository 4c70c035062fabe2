"""The spec's model families as torch modules, and a downloaded model file loaded back (the `[torch]` extra).

An MLP (no hidden layer = a linear model) and a small CNN. Every activation is its own module so the
trainer's instrumentation can hook it and see pre-activations (its input) and activations (its output)
without the models knowing about it. The trainer builds its models here, so a model file's weights load
into exactly the module they were trained in.

    model = trainwell.load_model("model.safetensors")
    logits = model(torch.tensor(raw_rows))   # normalization included
    print([model.labels[i] for i in logits.argmax(1)])
"""

from __future__ import annotations

import os

import torch
from torch import Tensor, nn

from trainwell.model_card import ModelCard
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


class RawRowsModel(nn.Module):
    """A trained module behind the normalization it was trained with: raw rows in, logits for each of
    `labels` (classification) or values in the target's units (regression) out."""

    feature_shift: Tensor
    feature_scale: Tensor
    target_shift: Tensor
    target_scale: Tensor

    def __init__(self, model: nn.Module, card: ModelCard) -> None:
        super().__init__()
        self.model = model
        self.card = card
        self.regression = card.task == "regression"
        self.register_buffer("feature_shift", torch.tensor(card.feature_shift, dtype=torch.float32))
        self.register_buffer("feature_scale", torch.tensor(card.feature_scale, dtype=torch.float32))
        self.register_buffer("target_shift", torch.tensor(card.target_shift, dtype=torch.float32))
        self.register_buffer("target_scale", torch.tensor(card.target_scale, dtype=torch.float32))

    @property
    def labels(self) -> list[str] | None:
        return self.card.labels

    @property
    def features(self) -> list[str]:
        return self.card.features

    def forward(self, rows: Tensor) -> Tensor:
        output: Tensor = self.model((rows - self.feature_shift) / self.feature_scale)
        if self.regression:
            return output.squeeze(-1) * self.target_scale + self.target_shift
        return output


def rebuild(state_dict: dict[str, Tensor], card: ModelCard) -> RawRowsModel:
    """The card's module with its weights, behind its normalization, in eval mode on the CPU."""
    model = build_model(card.spec.model, card.input_dim, card.output_dim, card.image_shape)
    model.load_state_dict(state_dict)
    return RawRowsModel(model, card).eval()


def read_model_file(path: str | os.PathLike[str]) -> tuple[dict[str, Tensor], ModelCard]:
    """A safetensors model file's weights and card."""
    from safetensors import safe_open  # the [torch] extra's

    with safe_open(str(path), framework="pt") as file:
        card = ModelCard.from_metadata(file.metadata() or {})
        state_dict = {name: file.get_tensor(name) for name in file.keys()}  # noqa: SIM118 (safe_open has no iter)
    return state_dict, card


def load_model(path: str | os.PathLike[str]) -> RawRowsModel:
    """A downloaded safetensors model file, rebuilt: `model(raw_rows)`, `model.labels`, `model.card`."""
    return rebuild(*read_model_file(path))
