"""Sweeps: reading a sweep folder back (collect.py), the Hydra callbacks of every command (callbacks.py), and the
share of the cores each parallel job gets (threads.py)."""
