import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10)
data, addr = s.recvfrom(65535)
open(sys.argv[2], "w").write(data.hex() + "\n")
