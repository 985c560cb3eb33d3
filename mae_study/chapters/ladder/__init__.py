"""The data chapter (book/data.md, notebooks 01 and 01b): the built-in data's calibration, the ladder of rungs."""
