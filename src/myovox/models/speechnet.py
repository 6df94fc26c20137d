"""SpeechNet, the ~15k-parameter CNN of SilentWear, for any channel count.

Input ``(batch, n_channels, n_times)`` is viewed as ``(batch, 1, n_channels, n_times)``. Three
temporal blocks (kernels along time only, per electrode) are followed by two spatial blocks
(kernels along channels only), global average pooling, dropout and a linear head. With the
defaults and 14 channels it is exactly the reference network (15,489 parameters for 9 classes).

Spatial kernel rule for other channel counts: ``k = min(7, (n_channels + 1) // 2)``, so that
two stacked spatial convolutions always leave at least one row (14 ch -> 7, 8 ch -> 4,
4 ch -> 2, 2 ch -> 1; even counts keep two rows as the reference does).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .._checks import check_int
from ..exceptions import ValidationError


def _is_fraction(value: Any) -> bool:
    """True for a real number in [0, 1] (not a bool)."""
    return not isinstance(value, bool) and isinstance(value, numbers.Real) and 0.0 <= float(value) <= 1.0


def _ints(name: str, values: Any) -> list[int]:
    """``values`` as a list of integers >= 1, or ``ValidationError`` (a string is not a sequence here)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ValidationError(f"Invalid value for {name!r}: expected a list of integers, got {values!r}.")
    return [check_int(name, v, minimum=1) for v in values]


def spatial_kernel_for(n_channels: int, max_kernel: int = 7) -> int:
    """Spatial kernel height used for ``n_channels`` electrodes (see module docstring)."""
    return max(1, min(max_kernel, (n_channels + 1) // 2))


class SpeechNet(nn.Module):
    """SilentWear's SpeechNet.

    Parameters
    ----------
    n_channels, n_times, n_classes : int
        Signal parameters (``n_times`` is only used to check inputs and compute MACs).
    temporal_filters, temporal_kernels, pools : sequences of int
        Output channels, time kernel lengths and time max-pool sizes of the temporal blocks;
        time padding is ``kernel // 2``.
    spatial_filters : sequence of int
        Output channels of the spatial blocks.
    spatial_kernel : int | None
        Spatial kernel height; ``None`` applies :func:`spatial_kernel_for`.
    dropout : float
        Dropout before the linear head.
    """

    def __init__(
        self,
        n_channels: int = 14,
        n_times: int = 700,
        n_classes: int = 9,
        *,
        temporal_filters: Sequence[int] = (8, 16, 16),
        temporal_kernels: Sequence[int] = (4, 16, 8),
        pools: Sequence[int] = (8, 4, 4),
        spatial_filters: Sequence[int] = (32, 32),
        spatial_kernel: int | None = None,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        # every size an integer (a model card read from disk may hold anything: inf, 7.5, "8", true)
        n_channels = check_int("n_channels", n_channels)
        n_times = check_int("n_times", n_times)
        n_classes = check_int("n_classes", n_classes)
        temporal_filters = _ints("temporal_filters", temporal_filters)
        temporal_kernels = _ints("temporal_kernels", temporal_kernels)
        pools = _ints("pools", pools)
        spatial_filters = _ints("spatial_filters", spatial_filters)
        if not _is_fraction(dropout):
            raise ValidationError(f"Invalid value for 'dropout': expected a number in [0, 1], got {dropout!r}.")
        if not (len(temporal_filters) == len(temporal_kernels) == len(pools)):
            raise ValidationError("temporal_filters, temporal_kernels and pools must have the same length.")
        if n_channels < 1 or n_times < 1 or n_classes < 2:
            raise ValidationError(
                f"SpeechNet needs n_channels >= 1, n_times >= 1, n_classes >= 2; got "
                f"{n_channels}, {n_times}, {n_classes}."
            )
        k_sp = (
            spatial_kernel_for(n_channels)
            if spatial_kernel is None
            else check_int("spatial_kernel", spatial_kernel, minimum=1)
        )
        rows_left = n_channels - len(spatial_filters) * (k_sp - 1)
        if rows_left < 1:
            raise ValidationError(
                f"spatial_kernel={k_sp} is too tall for {n_channels} channels and "
                f"{len(spatial_filters)} spatial blocks."
            )
        self._config: dict[str, Any] = dict(
            n_channels=n_channels,
            n_times=n_times,
            n_classes=n_classes,
            temporal_filters=list(temporal_filters),
            temporal_kernels=list(temporal_kernels),
            pools=list(pools),
            spatial_filters=list(spatial_filters),
            spatial_kernel=k_sp,
            dropout=dropout,
        )
        blocks: list[nn.Module] = []
        in_ch = 1
        for out_ch, k, p in zip(temporal_filters, temporal_kernels, pools, strict=True):
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(in_ch, out_ch, kernel_size=(1, k), padding=(0, k // 2)),
                    nn.BatchNorm2d(out_ch),
                    nn.ReLU(),
                    nn.MaxPool2d((1, p)),
                )
            )
            in_ch = out_ch
        for out_ch in spatial_filters:
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(in_ch, out_ch, kernel_size=(k_sp, 1)),
                    nn.BatchNorm2d(out_ch),
                    nn.ReLU(),
                    nn.MaxPool2d((1, 1)),
                )
            )
            in_ch = out_ch
        self.blocks = nn.ModuleList(blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(in_ch, n_classes)
        t = n_times
        for k, p in zip(temporal_kernels, pools, strict=True):
            t = (t + 2 * (k // 2) - k + 1) // p
        if t < 1:
            raise ValidationError(
                f"n_times={n_times} is too short for SpeechNet's pooling (needs >= {_min_times(self)})."
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits of shape ``(batch, n_classes)`` for ``x`` of shape ``(batch, n_channels, n_times)``."""
        if x.dim() == 3:
            x = x.unsqueeze(1)
        for block in self.blocks:
            x = block(x)
        x = self.pool(x).flatten(1)
        return self.classifier(self.dropout(x))

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this network with :meth:`from_config`."""
        return dict(self._config)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SpeechNet:
        known = {
            "n_channels",
            "n_times",
            "n_classes",
            "temporal_filters",
            "temporal_kernels",
            "pools",
            "spatial_filters",
            "spatial_kernel",
            "dropout",
        }
        unknown = set(config) - known
        if unknown:
            raise ValidationError(f"Unknown SpeechNet config keys: {', '.join(sorted(unknown))}.")
        return cls(**config)

    def load_state_dict_strict(self, state: dict[str, torch.Tensor]) -> None:
        """Load weights, raising ``ValidationError`` that names missing, unexpected or mis-shaped keys."""
        own = self.state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        shapes = [
            f"{k}: expected {tuple(own[k].shape)}, got {tuple(state[k].shape)}"
            for k in own
            if k in state and tuple(own[k].shape) != tuple(state[k].shape)
        ]
        if missing or unexpected or shapes:
            parts = []
            if missing:
                parts.append(f"missing keys {missing}")
            if unexpected:
                parts.append(f"unexpected keys {unexpected}")
            if shapes:
                parts.append(f"wrong shapes {shapes}")
            raise ValidationError("Weights do not fit this SpeechNet: " + "; ".join(parts) + ".")
        self.load_state_dict(state, strict=True)

    def count_macs(self, n_times: int | None = None) -> int:
        """Multiply-accumulates of one forward pass (convolutions and the linear head)."""
        t = self._config["n_times"] if n_times is None else n_times
        h = self._config["n_channels"]
        macs = 0
        blocks: Any = self.blocks  # Sequential(Conv2d, BatchNorm2d, ReLU, MaxPool2d) each
        for block in blocks:
            conv, _, _, pool = block
            kh, kw = conv.kernel_size
            ph, pw = conv.padding
            h_out = h + 2 * ph - kh + 1
            t_out = t + 2 * pw - kw + 1
            macs += conv.out_channels * h_out * t_out * conv.in_channels * kh * kw
            h, t = h_out // pool.kernel_size[0], t_out // pool.kernel_size[1]
        macs += self.classifier.in_features * self.classifier.out_features
        return int(macs)


def _min_times(net: SpeechNet) -> int:
    total = 1
    pools: list[int] = net._config["pools"]
    for p in pools:
        total *= p
    return total


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
