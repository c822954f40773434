"""The stages of a run, one module each, in the order a batch run takes them:

plan (inputs, hashes, run id) -> land (raw copies) -> read (which reader per input) -> check
(the kernel over each input's batches) -> load (every sink in one pass) -> settle (repeats by
exact key) -> report (quality and slices) -> record (manifest and run record).

A stage takes batches and settings, never an engine, so every engine composes the same ones.
"""
