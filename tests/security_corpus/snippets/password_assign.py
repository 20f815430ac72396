# expect: HS110
DB_PASSWORD = 'Sup3r-S3cret!'
