"""Smith's LR range test (task=range_test): raise the LR over a short run and read base_lr and max_lr off the loss.

settings.py  the range_test.* keys
loop.py      the test itself, on copies of the model and optimizer
bounds.py    Smith's two-bound rule (the default) that reads the suggested bounds off the smoothed loss
rules.py     the three rules side by side: smith, steepest, min_over_10
seeds.py     several seeds made one: the median per rule, its spread, the warnings
plot.py      range_test.png
task.py      task=range_test: build and test once per seed, write range_test.{csv,json,png}
"""
