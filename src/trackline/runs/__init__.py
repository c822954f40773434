"""Run records: a run's manifest (inputs, outputs, counts) and the history of runs."""
