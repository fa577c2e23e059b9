"""clr-lab: cyclical learning-rate experiments, configured with Hydra (`python -m runner`). docs/architecture.md
maps the package."""
