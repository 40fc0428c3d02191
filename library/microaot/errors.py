"""Exceptions raised by microaot. Messages name the model, operator index/name, tensor and a fix."""

from __future__ import annotations


class MicroaotError(Exception):
    """Base class of every error microaot reports to a user."""


class ModelFormatError(MicroaotError):
    """The file is not a readable TFLite flatbuffer, or is internally inconsistent."""


class UnsupportedModelError(MicroaotError):
    """The model uses an operator or feature microaot does not compile."""


class BuildError(MicroaotError):
    """A C compiler, linker or PlatformIO step failed."""


class RpcError(MicroaotError):
    """The device answered with an error, or the link failed."""
