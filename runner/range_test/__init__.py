"""Smith's LR range test (task=range_test): raise the LR over a short run and read base_lr and max_lr off the loss.

settings.py  the range_test.* keys
loop.py      the test itself, on copies of the model and optimizer
bounds.py    the rule that reads the suggested bounds off the smoothed loss
plot.py      range_test.png
task.py      task=range_test: build, test, write range_test.{csv,json,png}
"""
