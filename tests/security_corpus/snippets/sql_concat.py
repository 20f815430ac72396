# expect: HS106
def by_email(cur, email):
    cur.execute("SELECT * FROM users WHERE email = '" + email + "'")
