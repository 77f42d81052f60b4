#!/usr/bin/env python3
"""Round-trip latency of one RedWire frame kind from a blocking socket client (no driver).

Usage: scripts/bench/redwire-raw-latency.py PORT [KIND ...]
KIND: ping (0x17), query (0x01 "SELECT 1"), binary (0x07 "SELECT 1"). Start the server with
`red server --wire-bind 127.0.0.1:PORT` (auth off). Prints p50/p99 in microseconds over
5,000 timed requests after 500 untimed ones. Supplements `red bench surfaces`, whose
figures go through RedClient: this shows what the server alone costs per frame.
"""
import json, socket, struct, sys, time

KINDS = {"ping": (0x17, b""), "query": (0x01, b"SELECT 1"), "binary": (0x07, b"SELECT 1")}

def main():
    port = int(sys.argv[1])
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(bytes([0xFE, 1]))

    def frame(kind, cid, payload=b""):
        return struct.pack("<IBBHQ", 16 + len(payload), kind, 0, 0, cid) + payload

    def read():
        header = b""
        while len(header) < 16:
            header += s.recv(16 - len(header))
        length, kind, _, _, _ = struct.unpack("<IBBHQ", header)
        body = b""
        while len(body) < length - 16:
            body += s.recv(length - 16 - len(body))
        return kind, body

    s.sendall(frame(0x10, 1, json.dumps({"versions": [1], "auth_methods": ["anonymous"], "features": 0}).encode()))
    read()
    s.sendall(frame(0x13, 2))
    read()
    for name in sys.argv[2:] or ["ping", "query", "binary"]:
        kind, payload = KINDS[name]
        timed = []
        for i in range(5500):
            started = time.perf_counter_ns()
            s.sendall(frame(kind, 10 + i, payload))
            read()
            if i >= 500:
                timed.append(time.perf_counter_ns() - started)
        timed.sort()
        print(f"{name:7} p50 {timed[len(timed) // 2] / 1000:7.1f} us   p99 {timed[int(len(timed) * 0.99)] / 1000:7.1f} us")

main()
