# fix: HS105 8
"""Settings."""

import yaml


def read_settings(text):
    return yaml.load(text)
