# expect: HS111
import requests


def fetch(url):
    return requests.get(url, verify=False).text
