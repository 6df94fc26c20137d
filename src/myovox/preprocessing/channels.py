"""Channel selection and SilentWear's channel order."""

from __future__ import annotations

from collections.abc import Sequence

from .._checks import did_you_mean
from ..exceptions import ValidationError
from ..recording import Recording

__all__ = ["SILENTWEAR_CHANNEL_ORDER", "SILENTWEAR_DROPPED_CHANNELS", "select_channels"]

#: The 14 channels SilentWear feeds its models, in model row order (spatially adjacent electrodes
#: become adjacent rows). 16 are acquired; 0-based channels 11 and 12 are dropped.
SILENTWEAR_CHANNEL_ORDER: tuple[str, ...] = tuple(f"Ch_{i}" for i in (0, 1, 2, 5, 3, 4, 7, 6, 8, 15, 9, 14, 10, 13))

#: The acquired channels SilentWear drops.
SILENTWEAR_DROPPED_CHANNELS: tuple[str, ...] = ("Ch_11", "Ch_12")


def select_channels(recording: Recording, order: Sequence[str | int] | str | None) -> Recording:
    """Return ``recording`` with only the channels of ``order``, in that order.

    Parameters
    ----------
    recording : Recording
    order : sequence of str or int | "silentwear" | None
        Channel names (or indices); ``"silentwear"`` means :data:`SILENTWEAR_CHANNEL_ORDER`;
        ``None`` keeps the recording as it is.

    Raises
    ------
    ValidationError
        If a channel does not exist (with a did-you-mean suggestion).
    """
    if order is None:
        return recording
    if isinstance(order, str):
        if order.lower() != "silentwear":
            raise ValidationError(
                f"Invalid value for 'channels': expected a list of channel names or 'silentwear', "
                f"got {order!r}.{did_you_mean(order, ['silentwear'])}"
            )
        order = SILENTWEAR_CHANNEL_ORDER
    order = list(order)
    if not order:
        raise ValidationError(f"Invalid value for 'channels': empty channel list for {recording.source}.")
    if len(set(map(str, order))) != len(order):
        raise ValidationError(f"Invalid value for 'channels': duplicate channels in {order}.")
    names = list(recording.ch_names)
    for ch in order:
        if isinstance(ch, str) and ch not in names:
            raise ValidationError(
                f"Channel {ch!r} does not exist in {recording.source} (it has {len(names)} channels: "
                f"{', '.join(names)}).{did_you_mean(ch, names)}"
            )
    if [str(c) for c in order] == names:
        return recording
    return recording.pick(order)
