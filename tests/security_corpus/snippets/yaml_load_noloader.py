# expect: HS105
import yaml


def config(path):
    with open(path) as handle:
        return yaml.load(handle)
