"""The Apache Beam engine: the same contracts and kernel as the local engine, on Beam runners.

- `options`: runner flags and pass-through Beam options (`RunnerOptions`);
- `batch`, `dofns`, `staged`, `engine`: the batch pipeline (`BeamEngine.ingest`);
- `streaming`: Pub/Sub -> kernel -> raw files per event type and minute (+ errors).

Everything here imports apache-beam (`trackline[beam]`): import the modules, not this package,
only where Beam is wanted.
"""
