"""A small convolutional network, as an example of your own model in the pipeline's config
(examples/config.yaml: ``factory: examples.tiny_cnn:build``).

The pipeline calls ``build`` with the keyword arguments of the config's ``options`` only: it does
not tell the function the dataset's channels or classes, so the options say them, and the config
check stops the run if they do not fit the dataset.
"""

from collections import OrderedDict

from torch import nn


def build(channels: int = 1, classes: int = 10, width: int = 16) -> nn.Module:
    """Two 3x3 convolutions (batch norm, ReLU, 2x2 max pooling), global average pooling and two
    dense layers, for square images of any size from 4x4 up.

    The probe reads every activation module: the two ReLUs and the GELU (named act1, act2, act3).
    """
    return nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(channels, width, 3, padding=1),
            norm1=nn.BatchNorm2d(width),
            act1=nn.ReLU(),
            pool1=nn.MaxPool2d(2),
            conv2=nn.Conv2d(width, 2 * width, 3, padding=1),
            norm2=nn.BatchNorm2d(2 * width),
            act2=nn.ReLU(),
            pool2=nn.AdaptiveAvgPool2d(1),
            flatten=nn.Flatten(),
            fc1=nn.Linear(2 * width, 64),
            act3=nn.GELU(),
            fc2=nn.Linear(64, classes),
        )
    )
