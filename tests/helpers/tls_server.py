#!/usr/bin/python3
"""A pod's HTTPS probe handler for the probe tests, one connection at a time.

    tls_server.py PORT ok|hang CERT KEY

ok: answer 200 and close. hang: complete the TLS handshake, read the
request, never answer (until the prober gives up). Prints "listening".
"""
import socket
import ssl
import sys


def main():
    if len(sys.argv) != 5 or sys.argv[2] not in ("ok", "hang"):
        sys.exit("usage: tls_server.py PORT ok|hang CERT KEY")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])
    listener = socket.create_server(("::", int(sys.argv[1])), family=socket.AF_INET6, dualstack_ipv6=True)
    print("listening", flush=True)
    while True:
        conn, _ = listener.accept()
        try:
            with ctx.wrap_socket(conn, server_side=True) as tls:
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = tls.recv(4096)
                    if not chunk:
                        break
                    request += chunk
                if sys.argv[2] == "hang":
                    while tls.recv(4096):
                        pass
                else:
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        except (OSError, ssl.SSLError):
            pass


if __name__ == "__main__":
    main()
