"""A tiny HTTP service for the images tier, run with the image's python3: GET / answers 'hello from python'.

Listens on the socket systemd passed (LISTEN_FDS, fd 3), else --unix PATH, else --port N (all addresses).
Logs 'listening on ...' once it accepts, and on SIGTERM 'stopped cleanly' before exiting 0.
"""
import http.server
import os
import signal
import socket
import sys
import threading


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello from python\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def address_string(self):  # a unix socket's peer has no (host, port)
        return "client"


def main():
    args = sys.argv[1:]
    if os.environ.get("LISTEN_FDS") == "1" and os.environ.get("LISTEN_PID") == str(os.getpid()):
        sock = socket.socket(fileno=3)
        where = f"fd 3 (socket activation, {sock.getsockname()})"
    elif args[:1] == ["--unix"]:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(args[1])
        sock.listen(16)
        where = args[1]
    elif args[:1] == ["--port"]:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", int(args[1])))
        sock.listen(16)
        where = f"port {args[1]}"
    else:
        sys.exit("usage: server.py --unix PATH | --port N (or socket activation)")
    server = http.server.HTTPServer(("localhost", 0), Hello, bind_and_activate=False)
    server.socket.close()
    server.socket = sock
    # shutdown() waits for serve_forever to notice, so it runs in a thread; the handler itself returns at once
    # (an exception raised from it would land in whatever request is being served, and be swallowed there)
    signal.signal(signal.SIGTERM, lambda signum, frame: threading.Thread(target=server.shutdown).start())
    print(f"listening on {where}", flush=True)
    server.serve_forever()
    sock.close()
    if args[:1] == ["--unix"]:
        os.unlink(args[1])
    print("stopped cleanly", flush=True)


main()
