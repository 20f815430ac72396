# expect: HS102
import subprocess


def whois(domain):
    return subprocess.getoutput('whois ' + domain)
