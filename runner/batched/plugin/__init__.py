"""hydra_plugins.clr_lab_batched: the Hydra plugin shim of the batched launcher (runner/batched/).

Hydra accepts launcher classes only from the `hydra_plugins` namespace package. pyproject.toml ships this folder as
hydra_plugins.clr_lab_batched in the wheel; in a source checkout runner/batched/register.py loads it under that name.
"""
