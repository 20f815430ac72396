# expect: HS109
# Split in two literals, as in aws_key.py.
from github import Github

client = Github('ghp_' 'aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5')
