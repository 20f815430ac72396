# expect: HS110
from flask import Flask
app = Flask(__name__)
app.config['SECRET_KEY'] = 'k9#mQ2!zLw'
