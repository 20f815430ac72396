# fix: F401 4
"""Parse numbers."""

import os
import json


def load(text):
    return json.loads(text)
