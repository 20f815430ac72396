# expect: HS106
from sqlalchemy import text


def count(session, table):
    return session.execute(text(f'SELECT count(*) FROM {table}')).scalar()
