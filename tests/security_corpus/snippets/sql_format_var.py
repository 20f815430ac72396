# expect: HS106
def search(cur, term):
    query = "SELECT id FROM posts WHERE title LIKE '%{}%'".format(term)
    cur.execute(query)
