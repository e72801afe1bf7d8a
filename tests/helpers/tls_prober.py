#!/usr/bin/python3
"""The kubelet's HTTPS probe, for the probe tests: it names itself COMM,
makes COUNT probes on fresh connections with a deadline, skips certificate
checks as the kubelet does, reads the answer up to its Content-Length and
closes at once (it does not wait for the server to close first). Prints,
per probe, what it saw, as sw_prober does:

    <target> <success|failure|refused|reset|timeout> <ns> [<code>]

    tls_prober.py COMM COUNT TIMEOUT_MS https:ADDR:PORT
"""
import ctypes
import socket
import ssl
import sys
import time


def probe(host, port, timeout):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + timeout
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.settimeout(timeout)
    tls = None
    result, code = "timeout", ""
    try:
        sock.connect((host, port))
        tls = ctx.wrap_socket(sock)
        tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: pod\r\nUser-Agent: kube-probe/1.30\r\nConnection: close\r\n\r\n")
        answer = b""
        while True:
            tls.settimeout(max(deadline - time.monotonic(), 0.001))
            chunk = tls.recv(4096)
            if not chunk:
                break
            answer += chunk
            head, sep, body = answer.partition(b"\r\n\r\n")
            if sep:
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if len(body) >= length:
                    break
        if answer.startswith(b"HTTP/1."):
            code = answer[9:12].decode()
            result = "success" if 200 <= int(code) < 400 else "failure"
        else:
            result = "reset"
    except ConnectionRefusedError:
        result = "refused"
    except (socket.timeout, TimeoutError):
        result = "timeout"
    except (OSError, ssl.SSLError):
        result = "reset"
    finally:
        (tls or sock).close()
    return result, code


def main():
    if len(sys.argv) != 5 or not sys.argv[4].startswith("https:"):
        sys.exit("usage: tls_prober.py COMM COUNT TIMEOUT_MS https:ADDR:PORT")
    ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)  # PR_SET_NAME
    target = sys.argv[4]
    host, _, port = target[len("https:"):].rpartition(":")
    for _ in range(int(sys.argv[2])):
        t0 = time.monotonic_ns()
        result, code = probe(host.strip("[]"), int(port), int(sys.argv[3]) / 1000)
        print(target, result, time.monotonic_ns() - t0, code, flush=True)


if __name__ == "__main__":
    main()
