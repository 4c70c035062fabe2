"""The two model families of the spec: an MLP (no hidden layer = a linear model) and a small CNN.

They are defined in the client distribution (trainwell/torch_model.py), so that `trainwell.load_model`
rebuilds a downloaded model file into exactly the module the trainer trained.
"""

from trainwell.torch_model import ACTIVATIONS, ConvNet, build_model, mlp_layers

__all__ = ["ACTIVATIONS", "ConvNet", "build_model", "mlp_layers"]
