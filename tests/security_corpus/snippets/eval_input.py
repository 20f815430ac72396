# expect: HS101
value = eval(input('number: '))
