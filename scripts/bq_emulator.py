"""Start bqemulator (the BigQuery emulator the tests use) on a machine with no network.

bqemulator 1.4.0 installs and loads DuckDB's `spatial` extension when it starts, and refuses to
start when it cannot; the extension downloads at run time, which a closed network does not
allow. This launcher makes that step best-effort (GEOGRAPHY functions are then unavailable;
trackline uses none) and runs the emulator's own `start` command with the arguments given:

    python scripts/bq_emulator.py start --rest-port 9050 --grpc-port 9060 --data-dir DIR
"""

from __future__ import annotations

import logging
import sys

from bqemulator import cli
from bqemulator.storage import engine

log = logging.getLogger("bq_emulator")


def _spatial_if_available(self: engine.DuckDBEngine) -> None:
    try:
        self.connection.execute("LOAD spatial")
    except Exception as exc:  # offline: no GEOGRAPHY, everything else works
        log.warning("spatial extension unavailable (%s): GEOGRAPHY disabled", exc)


engine.DuckDBEngine._load_spatial = _spatial_if_available  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(cli.main())
