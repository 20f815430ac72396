# expect: HS111
import requests

session = requests.Session()


def post(url, body):
    return session.post(url, json=body, verify=False)
