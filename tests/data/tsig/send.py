import socket, sys
q = bytes.fromhex(open(sys.argv[2]).read().strip())
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
s.sendto(q, ("127.0.0.1", int(sys.argv[1])))
r, _ = s.recvfrom(65535)
open(sys.argv[3], "w").write(r.hex() + "\n")
