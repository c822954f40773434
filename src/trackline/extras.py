"""Optional dependencies: one guarded import that names the extra to install."""

from __future__ import annotations

import importlib
from typing import Any

from trackline.errors import ExtraNotInstalledError


def require_extra(module: str, extra: str, what: str) -> Any:
    """Import `module`, or raise ExtraNotInstalledError saying `what` needs `trackline[extra]`."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ExtraNotInstalledError(
            f"{what} needs {module}: pip install 'trackline[{extra}]'"
        ) from None
