"""A package index with trusted publishing, on loopback: the real pypiserver behind a TLS front
that answers the index's OIDC routes.

uv derives `https://<publish URL's host:port>/_/oidc/audience` and `/_/oidc/mint-token` from the
publish URL, so the front owns that host:port over TLS: it answers those two routes itself and
forwards every other request (the uploads) to pypiserver over plain HTTP. pypiserver (its app,
run here, as its README shows for custom authentication) serves `--packages` (where uploads land)
and `--also` (read only), and takes an upload only from `__token__` with a token minted here: an
htpasswd file holds one password per user, and concurrent uploads each hold a token of their own.

- `GET /_/oidc/audience` -> `{"audience": AUDIENCE}`.
- `POST /_/oidc/mint-token` with `{"token": ID_TOKEN}` -> `{"success": true, "token": MINTED}`
  when the ID token is genuine: a JWT whose audience is AUDIENCE and whose signature segment is
  `OIDC_ID_TOKEN_KEY` (the environment, like every secret; the GitHub stand-in signs with it),
  else 422 as the public index answers a token it cannot verify. Each mint makes a fresh token.
  `--refuse` answers every mint with 403 (no trusted publisher configured); with `--expire`,
  pypiserver takes no minted token (each expires before its upload).

The request log (`--log`, one JSON object per line) never holds a secret: `authorization` shows
the scheme only, the mint's body is replaced by whether its ID token was the expected one
(`id_token_ok`), and an upload's credential by the number of the mint that made it (`minted`).
The minted tokens themselves go to `--minted` (one per line), for the test to look for them in
everything else. Run with the tools' Python (`target/tools`), which has pypiserver. Prints
`listening on 127.0.0.1:TLS_PORT, pypiserver on 127.0.0.1:HTTP_PORT` once both are ready.
"""

import argparse
import http.client
import http.server
import json
import os
import pathlib
import secrets
import ssl
import sys
import threading
import wsgiref.simple_server
from base64 import b64decode
from socketserver import ThreadingMixIn

import pypiserver

LOCK = threading.Lock()
MINTED = []  # every token minted so far, in order


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cert", required=True, help="the server's certificate chain (PEM)")
    p.add_argument("--key", required=True, help="the server's private key (PEM)")
    p.add_argument("--packages", required=True, help="the directory uploads land in")
    p.add_argument("--also", action="append", default=[], help="more distributions to serve, read only")
    p.add_argument("--log", required=True, help="the request log (JSON lines, no secrets)")
    p.add_argument("--minted", required=True, help="where the minted tokens go, one per line")
    p.add_argument("--audience", default="xtask-test-index")
    p.add_argument("--refuse", action="store_true", help="answer every mint with 403")
    p.add_argument("--expire", action="store_true", help="minted tokens expire before they are used")
    return p.parse_args()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # the JSON log below is the only one
        pass

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def body(self):
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                chunk = self.rfile.read(size + 2)
                if size == 0:
                    return data
                data += chunk[:size]
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def handle_any(self):
        body = self.body()
        path = self.path.split("?")[0]
        entry = {"method": self.command, "path": path, "authorization": redacted(self.headers.get("authorization"))}
        if self.command == "GET" and path == "/_/oidc/audience":
            status = 200
            self.send_json(status, {"audience": ARGS.audience})
        elif self.command == "POST" and path == "/_/oidc/mint-token":
            status = self.mint(body, entry)
        else:
            entry["minted"] = minted_number(self.headers.get("authorization"))
            status = self.forward(body)
        entry["status"] = status
        with LOCK, open(ARGS.log, "a") as log:
            log.write(json.dumps(entry) + "\n")

    def mint(self, body, entry):
        try:
            sent = json.loads(body)["token"]
        except (ValueError, KeyError, TypeError):
            sent = None
        entry["id_token_ok"] = genuine(sent)
        if ARGS.refuse:
            errors = [{"code": "invalid-publisher", "description": "valid token, but no corresponding publisher"}]
            self.send_json(403, {"message": "Token request failed", "errors": errors})
            return 403
        if not entry["id_token_ok"]:
            errors = [{"code": "invalid-token", "description": "malformed or unverifiable token"}]
            self.send_json(422, {"message": "Token request failed", "errors": errors})
            return 422
        token = "pypi-minted-" + secrets.token_hex(16)
        with LOCK:
            MINTED.append(token)
            entry["mint"] = len(MINTED)
            with open(ARGS.minted, "a") as out:
                out.write(token + "\n")
        self.send_json(200, {"success": True, "token": token})
        return 200

    def forward(self, body):
        upstream = http.client.HTTPConnection("127.0.0.1", UPSTREAM_PORT, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "transfer-encoding", "connection")}
        headers["Content-Length"] = str(len(body))
        upstream.request(self.command, self.path, body=body, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
        self.send_response(answer.status, answer.reason)
        for k, v in answer.getheaders():
            if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()
        return answer.status

    def send_json(self, status, value):
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def genuine(token):
    """Whether `token` is an ID token for this index, signed with the key."""
    if not isinstance(token, str) or token.count(".") != 2:
        return False
    _, payload, signature = token.split(".")
    try:
        claims = json.loads(b64decode(payload.replace("-", "+").replace("_", "/") + "=" * (-len(payload) % 4)))
    except ValueError:
        return False
    return signature == ID_TOKEN_KEY and claims.get("aud") == ARGS.audience


def redacted(header):
    if header is None:
        return None
    scheme, _, rest = header.partition(" ")
    return f"{scheme} [REDACTED]" if rest else "[REDACTED]"


def minted_number(header):
    """Which mint made the upload's password (1, 2, …), or None when it is no minted token."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    with LOCK:
        return MINTED.index(password) + 1 if user == "__token__" and password in MINTED else None


def accepts(user, password):
    """pypiserver's check of an upload's credentials: `__token__` and a minted token."""
    with LOCK:
        return user == "__token__" and password in MINTED and not ARGS.expire


class QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


class ThreadingWSGIServer(ThreadingMixIn, wsgiref.simple_server.WSGIServer):
    daemon_threads = True


def start_pypiserver():
    """pypiserver's app on a free port, in a thread; returns the port."""
    roots = [pathlib.Path(p).resolve() for p in [ARGS.packages, *ARGS.also]]
    app = pypiserver.app(roots=roots, authenticate=["update"], auther=accepts)
    server = wsgiref.simple_server.make_server(
        "127.0.0.1", 0, app, server_class=ThreadingWSGIServer, handler_class=QuietHandler
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def main():
    global ARGS, ID_TOKEN_KEY, UPSTREAM_PORT
    ARGS = parse_args()
    ID_TOKEN_KEY = os.environ.get("OIDC_ID_TOKEN_KEY")
    if not ID_TOKEN_KEY:
        sys.exit("oidc_index: OIDC_ID_TOKEN_KEY is not set")
    UPSTREAM_PORT = start_pypiserver()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(ARGS.cert, ARGS.key)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"listening on 127.0.0.1:{server.server_address[1]}, pypiserver on 127.0.0.1:{UPSTREAM_PORT}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
