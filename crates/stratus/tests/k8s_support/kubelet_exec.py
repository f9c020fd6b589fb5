#!/usr/bin/env python3
"""A stand-in for a kubelet's exec endpoint, for tests against the real kube-apiserver.

The test cluster has no kubelet. For `pods/exec`, kube-apiserver looks up the pod's node,
connects to the address and port the Node object names (HTTPS; it does not verify the serving
certificate unless told a CA) and relays the client's WebSocket upgrade to
`/exec/NAMESPACE/POD/CONTAINER?command=…&output=1&error=1`. This server answers that upgrade
the way a kubelet does for the `v4.channel.k8s.io` protocol: the command's stdout on channel
1, a Success status on channel 3, then a close frame.

Usage: kubelet_exec.py CERT KEY LOG. Prints the port it listens on. Each exec request is
appended to LOG as a JSON line {"path", "query", "protocol"}; nothing is executed: the stdout
sent back is "notified POD: ARGV-JSON".
"""
import base64
import hashlib
import json
import socket
import ssl
import sys
import threading
import urllib.parse

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(payload, opcode=0x2):
    head = bytes([0x80 | opcode])
    size = len(payload)
    if size < 126:
        head += bytes([size])
    elif size < 65536:
        head += bytes([126]) + size.to_bytes(2, "big")
    else:
        head += bytes([127]) + size.to_bytes(8, "big")
    return head + payload


def handle(conn, context, log):
    try:
        stream = context.wrap_socket(conn, server_side=True)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = stream.recv(4096)
            if not chunk:
                return
            data += chunk
        lines = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        _method, target, _version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        url = urllib.parse.urlsplit(target)
        query = urllib.parse.parse_qs(url.query)
        offered = [p.strip() for p in headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
        protocol = "v4.channel.k8s.io" if "v4.channel.k8s.io" in offered else (offered or [""])[0]
        with open(log, "a") as out:
            out.write(json.dumps({"path": url.path, "query": query, "protocol": protocol}) + "\n")
        key = headers.get("sec-websocket-key", "")
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        stream.sendall(
            ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: %s\r\n\r\n" % (accept, protocol)).encode())
        pod = url.path.split("/")[3] if url.path.count("/") >= 3 else "?"
        said = "notified %s: %s\n" % (pod, json.dumps(query.get("command", [])))
        stream.sendall(frame(b"\x01" + said.encode()))
        stream.sendall(frame(b"\x03" + json.dumps({"metadata": {}, "status": "Success"}).encode()))
        stream.sendall(frame((1000).to_bytes(2, "big"), opcode=0x8))
        stream.settimeout(5)
        try:
            stream.recv(1024)
        except OSError:
            pass
        stream.close()
    except Exception as error:  # the test reads the log
        with open(log, "a") as out:
            out.write(json.dumps({"error": repr(error)}) + "\n")


def main():
    cert, key, log = sys.argv[1:4]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    print(server.getsockname()[1], flush=True)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=handle, args=(conn, context, log), daemon=True).start()


if __name__ == "__main__":
    main()
