"""The batched launcher (`hydra/launcher=batched`): the runs of a sweep that share model, data and batch size train
together as one vectorized model, each member with its own seed, data order, schedule and optimizer settings.
docs/architecture.md lists its modules; README's launcher section says when to use it.
"""
