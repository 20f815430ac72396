# fix: HS106 6
"""Orders."""


def orders_of(cursor, customer_id):
    cursor.execute("SELECT * FROM orders WHERE customer = %s" % customer_id)
    return cursor.fetchall()
