# expect: none
flag = eval('True')
nothing = eval('None')
