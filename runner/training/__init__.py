"""Training one run: the settings (settings.py), what gets built (build.py), the loop (loop.py) and its records
(records.py), checkpoints (checkpoint.py), test faults (faults.py), and the train and preview tasks (run.py,
preview.py)."""
