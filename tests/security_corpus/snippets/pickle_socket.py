# expect: HS104
import pickle


def receive(sock):
    return pickle.loads(sock.recv(4096))
