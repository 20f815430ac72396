# fix: E711 7
"""Linked lists."""


def length(node):
    count = 0
    while node != None:
        count += 1
        node = node.next
    return count
