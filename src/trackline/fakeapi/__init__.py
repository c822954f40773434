"""Look-alike Spotify, YouTube and Fake Store APIs with fault injection, for tests and the
demo: everything the connectors do runs over real HTTP with no network."""

from trackline.fakeapi.faults import FaultRates, Faults
from trackline.fakeapi.server import FakeAPI, build_app, run_forever, serve

__all__ = ["FakeAPI", "FaultRates", "Faults", "build_app", "run_forever", "serve"]
