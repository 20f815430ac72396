# expect: HS110
import psycopg2
conn = psycopg2.connect(host='db', user='app', password='pa55w0rd!')
