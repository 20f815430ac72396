# fix: HS106 6
"""Users."""


def find_user(cursor, name):
    cursor.execute(f"SELECT id, name FROM users WHERE name = '{name}'")
    return cursor.fetchone()
