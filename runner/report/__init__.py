"""The sweep report, built from a sweep folder's files: `python -m runner.report DIR`.

groups.py    runs grouped by configuration (the seed aside), the numbers per group
tables.py    runs.csv and schedules.csv
markdown.py  report.md
figures.py   compare.png
build.py     all of the above for one sweep folder
"""
