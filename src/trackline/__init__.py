"""trackline: listening and commerce event pipelines, laptop first."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("trackline")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
