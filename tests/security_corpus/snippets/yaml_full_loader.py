# expect: HS105
import yaml


def parse(text):
    return yaml.load(text, Loader=yaml.Loader)
