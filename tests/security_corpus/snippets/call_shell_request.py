# expect: HS103
from subprocess import call
from flask import request


def ping():
    host = request.form['host']
    call('ping -c1 ' + host, shell=True)
