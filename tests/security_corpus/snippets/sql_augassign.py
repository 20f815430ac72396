# expect: HS106
def report(cur, year):
    q = 'SELECT * FROM sales WHERE 1 = 1'
    q += f' AND year = {year}'
    cur.execute(q)
