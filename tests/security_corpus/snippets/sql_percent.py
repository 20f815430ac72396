# expect: HS106
def delete(conn, item_id):
    conn.execute('DELETE FROM items WHERE id = %s' % item_id)
