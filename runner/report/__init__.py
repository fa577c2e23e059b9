"""The sweep report, built from a sweep folder's files: `python -m runner.report DIR`.

groups.py    runs grouped by configuration (the seed aside), the numbers per group
measures.py  what each run gives each compared figure: a value, a censored seed, or nothing
stats.py     a group against the baseline: the test, the 95% CI, the verdict
baseline.py  the group every other group is compared with
compare.py   comparisons.csv: every group against the baseline on every figure
smith.py     Smith's Table 1 ratio with its bootstrap CI
headline.py  the sentence at the top of report.md
tables.py    runs.csv and schedules.csv
markdown.py  report.md
figures.py   compare.png
build.py     all of the above for one sweep folder
"""
