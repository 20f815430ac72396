# expect: HS110
def login(user, password='letmein99'):
    return user, password
