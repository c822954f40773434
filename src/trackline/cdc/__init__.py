"""Change data capture: poll an API, diff against the last snapshot, publish CloudEvents.

`snapshot` canonicalises and diffs, `store` keeps the snapshot and sequence in the state store,
`events` builds the CloudEvents, `deadletter` keeps what the bus refused, `poller` runs the loop.
"""

from trackline.cdc.deadletter import DeadLetterError, DeadLetters, Letter
from trackline.cdc.events import Source
from trackline.cdc.poller import CartsCDC, PollResult, Publisher, dead_letter_path, stop_on_signals
from trackline.cdc.snapshot import Change, diff, observe

__all__ = [
    "CartsCDC",
    "Change",
    "DeadLetterError",
    "DeadLetters",
    "Letter",
    "PollResult",
    "Publisher",
    "Source",
    "dead_letter_path",
    "diff",
    "observe",
    "stop_on_signals",
]
