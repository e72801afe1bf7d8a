#!/usr/bin/python3
"""A pod's gRPC health endpoint for the probe tests, on grpcio (a real gRPC
server): grpc.health.v1.Health/Check answers STATUS to every request.

    grpc_health_server.py PORT SERVING|NOT_SERVING|UNKNOWN|SERVICE_UNKNOWN

Prints "listening" once it serves. The message is written by hand
(HealthCheckResponse{status} is the two bytes 08 <status>; UNKNOWN, the
default, is the empty message) so that no generated code is needed.
"""
import sys
import threading
from concurrent import futures

import grpc

STATUS = {"UNKNOWN": 0, "SERVING": 1, "NOT_SERVING": 2, "SERVICE_UNKNOWN": 3}


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in STATUS:
        sys.exit("usage: grpc_health_server.py PORT " + "|".join(STATUS))
    status = STATUS[sys.argv[2]]
    answer = bytes([0x08, status]) if status else b""
    handler = grpc.method_handlers_generic_handler(
        "grpc.health.v1.Health", {"Check": grpc.unary_unary_rpc_method_handler(lambda request, context: answer)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), handlers=[handler])
    server.add_insecure_port("[::]:" + sys.argv[1])
    server.start()
    print("listening", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
