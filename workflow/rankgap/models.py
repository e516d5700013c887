"""The paper's models: LeNet-5, VGG-16 and ResNet-56, each in three variants.

Parameters, 10 classes (tests/test_models.py checks this table):

    model      input    bn, linear  nobn
    LeNet-5    1x28x28      62,158      61,706
    LeNet-5    3x32x32      83,578      83,126
    VGG-16     3x32x32  14,728,266  14,719,818
    ResNet-56  3x32x32     853,018     848,954

VGG-16 with ``classifier: mlp`` has 15,253,578 (bn); ResNet-56 for 100 classes 858,868 (bn).

Variants (the paper's Tables 5-10): ``bn`` (batch norm + ReLU, the paper's default), ``nobn``
(ReLU, no batch norm) and ``linear`` (batch norm, identity activations).

The paper says "linear activation functions", not "linear network", so the linear variant keeps
max pooling by default: the network stays non-affine, as the paper's must be to reach its 1.03%
MNIST test error (an affine network is logistic regression on the pixels, ~7%).  The model option
``pooling: avg`` pools by averaging instead; with batch norm in eval mode every layer of the linear
variant is then affine, and a layer's output rank is capped by its input's.

Initialisation: LeNet-5 and VGG-16 keep PyTorch's defaults (conv and linear weights and biases
U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the kaiming_uniform_ with a = sqrt(5) of ``reset_parameters``);
ResNet-56 draws conv and linear weights from Kaiming's normal (fan_in), as He et al. do; batch
norm starts at weight 1, bias 0.  The paper names neither.

The near-rank-loss probe reads the output of every activation module (``nn.ReLU`` or
``IdentityActivation``), i.e. H^l of the paper's Algorithm 1.  The config's own models (its
``models`` section) are built by a function named by import path (``factory``), and probed at the
modules ``select_layers`` chooses: every activation module, or those named by patterns.

Two remedies for the large-batch gap change modules (``with_remedies``): ghost batch norm and noise
on the activations.  Both keep every parameter and buffer, so a state dict loads into the model
with or without them.
"""

from __future__ import annotations

import fnmatch
import json
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from . import user_code
from .cpu_speed import MaxPool2x2
from .registry import VARIANTS
from .settings import RunSettings


class IdentityActivation(nn.Identity):
    """The linear variant's activation: a no-op that the probe finds where a ReLU would be."""


PROBED = (nn.ReLU, IdentityActivation)  # the built-in models' activations
# Probed unless told otherwise: the activation modules, whose outputs are the paper's hidden
# representations H^l (the built-ins' and the usual others).
ACTIVATIONS = (*PROBED, nn.GELU, nn.SiLU, nn.LeakyReLU, nn.Tanh)
LISTED_LAYERS = 40  # an error message names at most this many of the model's layers


class LayerError(ValueError):
    """Layers that cannot be probed: no activation modules, or a pattern that matches no module."""


def _act(variant: str) -> nn.Module:
    return IdentityActivation() if variant == "linear" else nn.ReLU(inplace=True)


def _norm(variant: str, features: int, dims: int) -> nn.Module:
    if variant == "nobn":
        return nn.Identity()
    return nn.BatchNorm2d(features) if dims == 2 else nn.BatchNorm1d(features)


class _GhostBatchNorm:
    """Ghost batch norm (Hoffer et al. 2017): in training, batch statistics over consecutive virtual
    batches of ``virtual_batch_size`` images, each normalised by its own and each updating the
    running statistics as a batch would; in eval mode the running statistics, as plain batch norm.
    Mixed into PyTorch's batch norm classes, whose parameters and buffers it keeps."""

    def __init__(self, features: int, virtual_batch_size: int):
        super().__init__(features)
        self.virtual_batch_size = virtual_batch_size

    def forward(self, x):
        normalize = super().forward  # batch norm's own, on each virtual batch
        if not self.training or len(x) <= self.virtual_batch_size:
            return normalize(x)
        return torch.cat([normalize(virtual) for virtual in x.split(self.virtual_batch_size)])


class GhostBatchNorm1d(_GhostBatchNorm, nn.BatchNorm1d):
    pass


class GhostBatchNorm2d(_GhostBatchNorm, nn.BatchNorm2d):
    pass


class _ActivationNoise:
    """An activation whose output gets Gaussian noise in training: standard deviation ``scale``
    times that of the output on the batch (the paper's proposal, section 6).

    The noise is drawn only while the module is in training mode *and* the training loop has handed
    it the epoch's seeded generator (``generator``): evaluation runs in eval mode, and the probe and
    the rival measures never hand one over, so they see the network without noise in either mode
    (and a resumed run draws the same noise as an uninterrupted one).  Mixed into the activation
    classes, so the probe finds these modules where it found the plain ones."""

    def __init__(self, scale: float):
        super().__init__()
        self.scale = scale
        self.generator: torch.Generator | None = None

    def forward(self, x):
        out = super().forward(x)
        if not self.training or self.generator is None:
            return out
        noise = torch.randn(out.shape, generator=self.generator, device=out.device, dtype=out.dtype)
        return out + noise * (self.scale * out.detach().std())  # the noise's own scale is not trained on


class NoisyReLU(_ActivationNoise, nn.ReLU):
    pass


class NoisyIdentityActivation(_ActivationNoise, IdentityActivation):
    pass


GHOST_BATCH_NORMS = {nn.BatchNorm1d: GhostBatchNorm1d, nn.BatchNorm2d: GhostBatchNorm2d}
NOISY_ACTIVATIONS = {nn.ReLU: NoisyReLU, IdentityActivation: NoisyIdentityActivation}


def with_remedies(model: nn.Module, ghost_batch_size: int | None, activation_noise: float) -> nn.Module:
    """``model`` with every batch norm made a ghost batch norm (when ``ghost_batch_size`` is set) and
    every activation a noisy one (when ``activation_noise`` is not 0), in place.  Modules are
    swapped after the model is built, so its initialisation is what it is without the remedies."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if ghost_batch_size and type(child) in GHOST_BATCH_NORMS:
                setattr(parent, name, GHOST_BATCH_NORMS[type(child)](child.num_features, ghost_batch_size))
            elif activation_noise and type(child) in NOISY_ACTIVATIONS:
                setattr(parent, name, NOISY_ACTIVATIONS[type(child)](activation_noise))
    return model


def noisy_activations(model: nn.Module) -> list[_ActivationNoise]:
    """The activations that add noise in training (none without the remedy)."""
    return [m for m in model.modules() if isinstance(m, _ActivationNoise)]


def _pool(pooling: str) -> nn.Module:
    return nn.AvgPool2d(2) if pooling == "avg" else MaxPool2x2()


def lenet5(variant: str, channels: int, size: int, classes: int, pooling: str = "max") -> nn.Module:
    """LeNet-5 with 'same' padding on the first conv: 6x28x28 and 16x10x10 feature maps for 28x28 inputs.

    ``pooling``: ``max`` (the usual modern LeNet-5) or ``avg`` (with ``linear``: an affine network).
    """
    flat = 16 * ((size // 2 - 4) // 2) ** 2
    return nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(channels, 6, 5, padding=2),
            norm1=_norm(variant, 6, 2),
            act1=_act(variant),
            pool1=_pool(pooling),
            conv2=nn.Conv2d(6, 16, 5),
            norm2=_norm(variant, 16, 2),
            act2=_act(variant),
            pool2=_pool(pooling),
            flatten=nn.Flatten(),
            fc3=nn.Linear(flat, 120),
            norm3=_norm(variant, 120, 1),
            act3=_act(variant),
            fc4=nn.Linear(120, 84),
            norm4=_norm(variant, 84, 1),
            act4=_act(variant),
            fc5=nn.Linear(84, classes),
        )
    )


VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def vgg16(
    variant: str, channels: int, size: int, classes: int, classifier: str = "single", pooling: str = "max"
) -> nn.Module:
    """VGG-16 for 32x32 inputs: 13 conv3x3 layers, five 2x2 pools down to 512x1x1.

    ``classifier``: ``single`` is one 512->classes layer (the common CIFAR form, 14.7 M parameters
    for 10 classes); ``mlp`` adds two hidden layers of 512 units (15.3 M), closer to ImageNet VGG.
    ``pooling``: ``max`` or ``avg``, as for LeNet-5.
    """
    layers, width = [], channels
    for v in VGG16:
        if v == "M":
            layers.append((f"pool{sum(name.startswith('pool') for name, _ in layers) + 1}", _pool(pooling)))
        else:
            n = sum(name.startswith("conv") for name, _ in layers) + 1
            layers += [
                (f"conv{n}", nn.Conv2d(width, v, 3, padding=1)),
                (f"norm{n}", _norm(variant, v, 2)),
                (f"act{n}", _act(variant)),
            ]
            width = v
    layers.append(("flatten", nn.Flatten()))
    if classifier == "mlp":
        layers += [
            ("fc14", nn.Linear(512, 512)),
            ("act14", _act(variant)),
            ("fc15", nn.Linear(512, 512)),
            ("act15", _act(variant)),
        ]
    layers.append(("fc", nn.Linear(512, classes)))
    return nn.Sequential(OrderedDict(layers))


class BasicBlock(nn.Module):
    """ResNet basic block with the parameter-free option-A shortcut (subsample, zero-pad channels)."""

    def __init__(self, variant: str, width_in: int, width: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(width_in, width, 3, stride, 1, bias=False)
        self.bn1 = _norm(variant, width, 2)
        self.act1 = _act(variant)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = _norm(variant, width, 2)
        self.act2 = _act(variant)
        self.pad = width - width_in
        self.stride = stride

    def forward(self, x):
        out = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        shortcut = x[:, :, :: self.stride, :: self.stride]
        if self.pad:
            shortcut = F.pad(shortcut, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return self.act2(out + shortcut)


def resnet56(variant: str, channels: int, size: int, classes: int) -> nn.Module:
    """ResNet-56 for CIFAR (He et al. 2016, section 4.2): 3 stages of 9 blocks, 16/32/64 channels."""
    layers = [
        ("conv", nn.Conv2d(channels, 16, 3, 1, 1, bias=False)),
        ("norm", _norm(variant, 16, 2)),
        ("act", _act(variant)),
    ]
    width = 16
    for stage, stage_width in enumerate((16, 32, 64), start=1):
        blocks = []
        for block in range(9):
            blocks.append(BasicBlock(variant, width, stage_width, 2 if stage > 1 and block == 0 else 1))
            width = stage_width
        layers.append((f"stage{stage}", nn.Sequential(*blocks)))
    layers += [("pool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()), ("fc", nn.Linear(64, classes))]
    model = nn.Sequential(OrderedDict(layers))
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight)
    return model


BUILDERS = {"lenet5": lenet5, "vgg16": vgg16, "resnet56": resnet56}  # registry.MODELS names them


def from_settings(settings: RunSettings) -> nn.Module:
    """The model a run's settings describe, with the remedies they apply to its modules: a built-in
    one for its dataset's image shape and classes, or the one a function (``factory``) returns."""
    if settings.factory:
        model = user_code.import_function(settings.factory)(**settings.model_options)
    else:
        shape = settings.image_shape
        model = build(
            settings.model, settings.variant, shape.channels, shape.size, shape.classes, **settings.model_options
        )
    return with_remedies(model, settings.ghost_batch_size, settings.activation_noise)


def save_safetensors(weights: dict, path, **metadata: str) -> None:
    """A weights file (``train.weights_file``) as safetensors: the state dict's tensors, the settings
    and status (and any other ``metadata``) as metadata; no pickle, so anyone may load it
    (``read_safetensors``)."""
    from safetensors.torch import save_file

    state = {key: value.contiguous() for key, value in weights["state"].items()}
    header = {"settings": json.dumps(weights["settings"]), "status": weights["status"], **metadata}
    save_file(state, str(path), metadata=header)


class NoSettingsError(ValueError):
    """A safetensors file without a run's settings: a bare state dict, not this pipeline's weights."""


def read_safetensors(path) -> dict:
    """A weights file saved by ``save_safetensors``, as ``train.weights_file`` gives it."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        metadata = f.metadata() or {}
        if "settings" not in metadata:
            raise NoSettingsError(f"{path} holds no run settings: not a weights file of this pipeline")
        state = {key: f.get_tensor(key) for key in f.keys()}
    return {"settings": json.loads(metadata["settings"]), "status": metadata.get("status", "ok"), "state": state}


def from_weights(weights: dict) -> nn.Module:
    """The model of a weights file (``train.weights_file``: its settings and state dict), on the CPU."""
    model = from_settings(RunSettings.from_dict(weights["settings"]))
    model.load_state_dict(weights["state"])
    return model


def build(name: str, variant: str, channels: int, size: int, classes: int, **options) -> nn.Module:
    if name not in BUILDERS:
        raise ValueError(f"unknown model '{name}'; known: {', '.join(BUILDERS)}")
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant '{variant}'; known: {', '.join(VARIANTS)}")
    return BUILDERS[name](variant, channels, size, classes, **options)


def _named_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name, module) for name, module in model.named_modules() if name]  # "" is the model itself


def describe_layers(model: nn.Module, most: int | None = None) -> str:
    """The model's layers, one "name (type)" a line, the first ``most`` of them."""
    named = _named_layers(model)
    lines = [f"  {name} ({type(module).__name__})" for name, module in named[:most]]
    if most is not None and len(named) > most:
        lines.append(f"  ... ({len(named)} layers in all)")
    return "\n".join(lines)


def is_activation(module: nn.Module) -> bool:
    """An activation module: one of ``ACTIVATIONS``, or one of the transformers library's own
    activation classes (GELUActivation, NewGELUActivation...: plain modules of
    ``transformers.activations``, recognised without importing the library)."""
    return isinstance(module, ACTIVATIONS) or type(module).__module__ == "transformers.activations"


def select_layers(model: nn.Module, layers=None) -> list[tuple[str, nn.Module]]:
    """The (name, module) pairs to probe, in the order of ``model.named_modules()``.

    ``layers``: None for the activation modules (``is_activation``); or what to probe, one item or a
    list of them: a name pattern, matched with ``fnmatch`` against the names ``named_modules``
    gives ("layer4.*", "features.?"), or a module type (``nn.Conv2d``).  Every item must match.
    """
    named = _named_layers(model)
    if layers is None:
        selected = [(name, module) for name, module in named if is_activation(module)]
        if not selected:
            raise LayerError(
                "the model has no activation modules (" + ", ".join(t.__name__ for t in ACTIVATIONS) + ", or "
                "transformers' own: GELUActivation...); it may "
                "call its activations as functions (F.relu).  Name the layers to measure instead, among:\n"
                + describe_layers(model, LISTED_LAYERS)
            )
        return selected
    items = [layers] if isinstance(layers, (str, type)) else list(layers)
    for item in items:
        if not isinstance(item, (str, type)):
            raise LayerError(f"layers: {item!r} is neither a name pattern (str) nor a module type")

    def matches(item, name: str, module: nn.Module) -> bool:
        return fnmatch.fnmatchcase(name, item) if isinstance(item, str) else isinstance(module, item)

    for item in items:
        if not any(matches(item, name, module) for name, module in named):
            shown = item if isinstance(item, str) else item.__name__
            raise LayerError(
                f"no layer of the model matches '{shown}'; its layers are:\n" + describe_layers(model, LISTED_LAYERS)
            )
    return [(name, module) for name, module in named if any(matches(item, name, module) for item in items)]
