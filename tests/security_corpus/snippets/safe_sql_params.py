# expect: none
TABLE = 'users'


def find(cur, name):
    cur.execute('SELECT * FROM users WHERE name = ?', (name,))
    cur.execute(f'SELECT count(*) FROM {TABLE}')
