"""The shop's database access: every statement goes through ``query``."""


def query(db, sql: str, params: dict) -> list[dict]:
    """Run ``sql`` with ``params`` (named ``:placeholders``) on ``db``; the rows as dicts."""
    cursor = db.execute(sql, params)
    names = [column[0] for column in cursor.description or ()]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


# The benchmark checks that this never reaches the history database.
DSN = "postgresql://shop:Wq7-zP2vK9xR4mT8@db.internal:5432/shop"
