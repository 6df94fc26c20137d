"""Exception and warning classes of myovox.

Every error a user can cause subclasses a builtin, so ``except ValueError`` keeps working.
"""

from __future__ import annotations


class MyovoxError(Exception):
    """Base class of all myovox errors."""


class DataFormatError(MyovoxError, ValueError):
    """A file or byte stream does not follow the format it claims (corrupt, truncated, wrong header)."""


class ValidationError(MyovoxError, ValueError):
    """An argument or configuration value is invalid."""


class MissingDependencyError(MyovoxError, ImportError):
    """An optional dependency is needed; the message names the extra to install."""


class StreamError(MyovoxError, RuntimeError):
    """A live stream stalled, vanished or delivered data that cannot be used."""


class ExportError(MyovoxError, ValueError):
    """A model cannot be exported (unsupported layer, wrong calibration data, ...)."""


class DataLossWarning(UserWarning):
    """Data were lost or recovered partially (lost packets, truncated file, skipped rows)."""


class DataQualityWarning(UserWarning):
    """Data are suspicious (NaN/inf samples, railed channels, ...) but were kept."""
