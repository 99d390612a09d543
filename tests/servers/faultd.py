#!/usr/bin/env python3
"""tests/servers/faultd.py - a scripted fault-injecting HTTP proxy for arca's
cloud tests (python3 standard library only).

It forwards every request to an upstream server (s3rver or the GCS
emulator) unchanged - Host header included, so SigV4 signatures still
verify upstream - and injects the faults a real server will not produce on
demand, following a script of rules:

  usage: faultd.py --upstream http://127.0.0.1:PORT --port-file FILE
                   [--token TOKEN]

Control endpoints (not forwarded):
  POST /__faultd/rules   body: a JSON list of rules; replaces the script and
                         clears the counters
  GET  /__faultd/stats   {"requests": N, "injected": N, "resigned": N,
                         "rules": [{"hits": N, "injected": N}, ...], "tokens": N}
  GET  /__faultd/log     one line per request: METHOD PATH?QUERY -> outcome
  GET  /__faultd/assertions   the JWT assertions POSTed to /token, one a line

A rule: {"method": "PUT", "path": "REGEX searched in path?query",
         "action": ACTION, "skip": 0, "times": -1, "every": 1, ...}
matches a request when method and path match; of the matching requests the
first `skip` pass, then every `every`-th is faulted until `times` faults
were injected (-1: no limit).  The first rule that fires wins.  Actions:
  status    answer "status" (default 503) with an S3 XML error whose Code is
            "code" (default SlowDown), or with "body" as given
  reset     PUT/POST: read the body, forward it when "forward" is true, then
            reset the connection (the reply is lost); GET: send the headers
            and half the body, then reset
  truncate  send the headers (full Content-Length) and half the body, close
  delay     wait "seconds", then forward normally
  stall     send the headers only, then wait "seconds" before closing (a
            client's low-speed timeout should give up first)
  noreplace PUT with "If-None-Match: *": 412 when the object exists upstream
            (HEAD), else forward (s3rver ignores the header; real S3 does not)
  resign    a bucket-level request ("/BUCKET/" or "/BUCKET/?QUERY") SigV4-signed
            over the path as sent, "/BUCKET/", as minio-go (restic) signs it
            and S3 accepts: s3rver 4.0.4 canonicalizes that path as "/BUCKET"
            and rejects the signature.  Verify the signature as S3 does with
            the rule's "secret" (the access key's secret), and when it
            verifies, sign the same request again over "/BUCKET" and forward
            it, else forward it unchanged (s3rver refuses it).  Nothing else
            in the request changes: one request in, one forwarded.  Not a
            fault (not in "injected"); stats "resigned" counts them.  Rule:
            {"path": "^/[^/?]+/(\\?|$)", "action": "resign", "secret": S}

With --token TOKEN it is also an OAuth2 token endpoint: POST .../token with
grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=JWT answers
{"access_token": TOKEN, "expires_in": 3600}, and every forwarded request
must carry "Authorization: Bearer TOKEN" (401 otherwise).
"""
import argparse
import hashlib
import hmac
import http.client
import http.server
import json
import re
import socket
import struct
import sys
import threading
import time
import urllib.parse

LOCK = threading.Lock()
STATE = {"rules": [], "requests": 0, "injected": 0, "resigned": 0, "log": [], "tokens": 0, "assertions": []}
HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te", "trailer"}


def s3_error(code, msg):
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message>"
            "<RequestId>faultd</RequestId></Error>" % (code, msg)).encode()


def pick_rule(method, target):
    with LOCK:
        STATE["requests"] += 1
        for r in STATE["rules"]:
            if r.get("method") and r["method"] != method:
                continue
            if r.get("path") and not re.search(r["path"], target):
                continue
            r["hits"] = r.get("hits", 0) + 1
            n = r["hits"] - r.get("skip", 0)
            if n <= 0:
                continue
            times = r.get("times", -1)
            if times >= 0 and r.get("injected", 0) >= times:
                continue
            if (n - 1) % max(1, r.get("every", 1)) != 0:
                continue
            r["injected"] = r.get("injected", 0) + 1
            if r.get("action") not in ("delay", "noreplace", "resign"):
                STATE["injected"] += 1
            return dict(r)
    return None


def sigv4_signature(secret, method, uri, query, headers, node_style):
    """The SigV4 signature of a request whose Authorization header names the
    signed headers and the scope (S3: the payload hash is the
    x-amz-content-sha256 header).  node_style: canonicalize the query the
    way s3rver 4.0.4 does (encodeURIComponent, "k=v" strings sorted), else
    as S3 does (RFC 3986, sorted by key, then value)."""
    auth = headers.get("Authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return None
    parts = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(",") if "=" in p)
    scope = parts.get("Credential", "").split("/")[1:]
    signed = parts.get("SignedHeaders", "")
    if len(scope) != 4 or not signed:
        return None
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    if node_style:
        q = lambda v: urllib.parse.quote(v, safe="-_.!~*'()")  # noqa: E731
        cq = "&".join(sorted("%s=%s" % (q(k), q(v)) for k, v in pairs))
    else:
        q = lambda v: urllib.parse.quote(v, safe="-_.~")  # noqa: E731
        cq = "&".join("%s=%s" % kv for kv in sorted((q(k), q(v)) for k, v in pairs))
    lower = {k.lower(): v for k, v in headers.items()}
    ch = "".join("%s:%s\n" % (h, " ".join(lower.get(h, "").split())) for h in signed.split(";"))
    creq = "\n".join([method, uri, cq, ch, signed, lower.get("x-amz-content-sha256", "UNSIGNED-PAYLOAD")])
    sts = "\n".join(["AWS4-HMAC-SHA256", lower.get("x-amz-date", ""), "/".join(scope),
                     hashlib.sha256(creq.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in scope:
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return parts.get("Signature"), hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


def resign(secret, method, target, headers):
    """The "resign" action: headers with the Authorization re-signed over
    "/BUCKET", or None when the request is not "/BUCKET/..." or its
    signature does not verify over the path as sent."""
    path, _, query = target.partition("?")
    m = re.fullmatch(r"/([^/]+)/", path)
    if not m or not secret:
        return None
    sig = sigv4_signature(secret, method, path, query, headers, False)
    if not sig or not hmac.compare_digest(sig[0] or "", sig[1]):
        return None
    bucket = urllib.parse.quote(urllib.parse.unquote(m.group(1)), safe="-_.!~*'()")
    new = sigv4_signature(secret, method, "/" + bucket, query, headers, True)[1]
    out = dict(headers)
    out["Authorization"] = re.sub(r"Signature=[0-9a-fA-F]+", "Signature=" + new, headers["Authorization"])
    return out


def log(line):
    with LOCK:
        STATE["log"].append(line)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = None
    token = None

    def log_message(self, fmt, *args):  # quiet
        pass

    def conn(self):
        c = getattr(self, "_up", None)
        if c is None:
            u = urllib.parse.urlsplit(self.upstream)
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
            self._up = c
        return c

    def forward(self, method, body, headers=None):
        if headers is None:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        for attempt in range(2):
            c = self.conn()
            try:
                c.request(method, self.path, body=body, headers=headers)
                r = c.getresponse()
                data = r.read()
                return r.status, r.reason, [(k, v) for k, v in r.getheaders() if k.lower() not in HOP], data
            except (ConnectionError, http.client.HTTPException, OSError):
                c.close()
                self._up = None
                if attempt:
                    raise

    def send(self, status, reason, headers, data, head=False, cut=None):
        self.send_response_only(status, reason)
        has_len = False
        for k, v in headers:
            if k.lower() == "content-length":
                has_len = True
                if head:
                    self.send_header(k, v)
                continue
            if k.lower() in ("date", "server"):
                continue
            self.send_header(k, v)
        if not head or not has_len:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not head:
            self.wfile.write(data if cut is None else data[:cut])
        self.wfile.flush()

    def reset(self):
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def control(self, method, body):
        if method == "POST" and self.path == "/__faultd/rules":
            try:
                rules = json.loads(body or b"[]")
                assert isinstance(rules, list)
            except Exception as e:  # noqa: BLE001
                return self.send(400, "Bad Request", [], ("bad rules: %s" % e).encode())
            with LOCK:
                STATE["rules"] = rules
                STATE["requests"] = STATE["injected"] = STATE["resigned"] = 0
                STATE["log"] = []
            return self.send(200, "OK", [], b"ok\n")
        if self.path == "/__faultd/stats":
            with LOCK:
                out = {"requests": STATE["requests"], "injected": STATE["injected"], "resigned": STATE["resigned"],
                       "tokens": STATE["tokens"],
                       "rules": [{"hits": r.get("hits", 0), "injected": r.get("injected", 0)} for r in STATE["rules"]]}
            return self.send(200, "OK", [("Content-Type", "application/json")], json.dumps(out).encode())
        if self.path == "/__faultd/log":
            with LOCK:
                data = ("\n".join(STATE["log"]) + "\n").encode()
            return self.send(200, "OK", [], data)
        if self.path == "/__faultd/assertions":
            with LOCK:
                data = ("\n".join(STATE["assertions"]) + "\n").encode()
            return self.send(200, "OK", [], data)
        return self.send(404, "Not Found", [], b"no such control\n")

    def token_endpoint(self, body):
        form = urllib.parse.parse_qs(body.decode("ascii", "replace"))
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"] or not form.get("assertion"):
            return self.send(400, "Bad Request", [("Content-Type", "application/json")],
                             b'{"error":"invalid_grant"}')
        with LOCK:
            STATE["tokens"] += 1
            STATE["assertions"].append(form["assertion"][0])
        log("POST %s -> token" % self.path)
        reply = json.dumps({"access_token": self.token, "expires_in": 3600, "token_type": "Bearer"}).encode()
        return self.send(200, "OK", [("Content-Type", "application/json")], reply)

    def handle_any(self):
        method = self.command
        n = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            return self.send(411, "Length Required", [], b"chunked bodies are not supported\n")
        body = self.rfile.read(n) if n else b""
        if self.path.startswith("/__faultd/"):
            return self.control(method, body)
        if self.token and method == "POST" and self.path.rstrip("/").endswith("/token"):
            return self.token_endpoint(body)
        if self.token and self.headers.get("Authorization") != "Bearer " + self.token:
            log("%s %s -> 401" % (method, self.path))
            return self.send(401, "Unauthorized", [("Content-Type", "application/json")],
                             b'{"error":{"code":401,"message":"missing or wrong bearer token"}}')
        rule = pick_rule(method, self.path)
        act = rule.get("action") if rule else None
        head = method == "HEAD"
        fwd = None
        if act == "resign":
            fwd = resign(rule.get("secret"), method, self.path,
                         {k: v for k, v in self.headers.items() if k.lower() not in HOP})
            if fwd is None:  # forwarded unchanged
                act = "resign-unverified" if re.match(r"/[^/?]+/(\?|$)", self.path) else None
            else:
                with LOCK:
                    STATE["resigned"] += 1
        log("%s %s -> %s" % (method, self.path, act or "pass"))
        if act == "status":
            st = int(rule.get("status", 503))
            data = rule["body"].encode() if "body" in rule else s3_error(rule.get("code", "SlowDown"),
                                                                          "injected by faultd")
            return self.send(st, http.client.responses.get(st, ""), [("Content-Type", "application/xml")], data,
                             head=head)
        if act == "reset" and method in ("PUT", "POST"):
            if rule.get("forward"):
                self.forward(method, body)
            return self.reset()
        if act == "delay":
            time.sleep(float(rule.get("seconds", 1)))
        if act == "noreplace" and method == "PUT" and self.headers.get("If-None-Match") == "*":
            c = self.conn()
            c.request("HEAD", self.path.split("?")[0], headers={"Host": self.headers.get("Host", "")})
            r = c.getresponse()
            r.read()
            if r.status == 200:
                log("%s %s -> 412" % (method, self.path))
                return self.send(412, "Precondition Failed", [("Content-Type", "application/xml")],
                                 s3_error("PreconditionFailed", "At least one of the pre-conditions you "
                                          "specified did not hold"))
        status, reason, headers, data = self.forward(method, body, fwd)
        if act in ("reset", "truncate", "stall") and not head and len(data) >= 2:
            half = 0 if act == "stall" else len(data) // 2
            self.send(status, reason, headers, data, cut=half)
            if act == "stall":
                time.sleep(float(rule.get("seconds", 5)))
            if act == "reset":
                return self.reset()
            self.close_connection = True
            return None
        return self.send(status, reason, headers, data, head=head)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--token")
    a = ap.parse_args()
    Handler.upstream = a.upstream
    Handler.token = a.token
    srv = Server(("127.0.0.1", a.port), Handler)
    with open(a.port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    import os
    os.rename(a.port_file + ".tmp", a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
