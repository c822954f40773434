"""trackline: listening and commerce event pipelines, laptop first."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    __version__: str

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # The version is looked up on first use: importing the package (every CLI call) should not
    # pay for importlib.metadata.
    if name != "__version__":
        raise AttributeError(f"module 'trackline' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("trackline")
    except PackageNotFoundError:  # running from a source tree without an install
        found = "0.0.0+local"
    globals()["__version__"] = found
    return found
