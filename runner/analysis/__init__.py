"""Turning a run's records into numbers: plateaus and their escape (plateaus.py), steps to a target accuracy
(targets.py), both for one run (run.py), with the analysis.* settings (settings.py). Pure: numpy only."""
