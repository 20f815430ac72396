# fix: F401 4
"""Tables."""

import numpy as np
import csv


def rows(path):
    with open(path, newline="") as handle:
        return list(csv.reader(handle))
