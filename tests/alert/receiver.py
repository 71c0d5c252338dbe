#!/usr/bin/env python3
"""Test receiver for earshot alerts: an HTTP webhook receiver and an SMTP sink on 127.0.0.1.

Each request is checked the way the real receiver would check it, and recorded as
one JSON line in --log: {"channel", "key", "ok", "errors", "type", "recv_ms",
"event_ms", "status", ...}.

  /webhook/...   X-Earshot-Timestamp within 300 s, X-Earshot-Signature
                 v1=hex(HMAC-SHA256(secret, ts "." body)), JSON body with idempotency_key
  /slack/...     {"text", "blocks": [...]}
  /dingtalk/...  ?timestamp=<ms>&sign=urlenc(base64(HMAC-SHA256(secret, ms "\\n" secret))),
                 {"msgtype": "markdown", "markdown": {"title", "text"}}
  /wecom/...     {"msgtype": "markdown", "markdown": {"content"}} (<= 4096 bytes)
  /feishu/...    {"timestamp", "sign" = base64(HMAC-SHA256(ts "\\n" secret, "")), "msg_type"}
  /fail/...      always 500

--fail-first N answers 500 to the first N requests (then as above). A bad
signature is answered 401. The SMTP sink (--smtp-port-file) speaks enough
ESMTP for libcurl (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT); with --starttls
it advertises STARTTLS and upgrades with --cert/--key (PEM). Each message is recorded
with "tls" (whether it came over TLS) and "tls_version"; a handshake the client
aborts (e.g. it did not trust the certificate) is recorded as {"event": "tls_failed"}.
"""
import argparse
import base64
import email
import email.header
import hashlib
import hmac
import json
import socket
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
state = {"n": 0}
args = None
log = None


def record(rec):
    with lock:
        log.write(json.dumps(rec, ensure_ascii=False) + "\n")
        log.flush()


def now_ms():
    return int(time.time() * 1000)


def check(path, headers, query, body):
    """Returns (channel, key, errors, event_ms, type)."""
    errs = []
    ch = path.strip("/").split("/")[0]
    key = headers.get("X-Earshot-Idempotency-Key", "")
    secret = args.secret.encode()
    try:
        doc = json.loads(body)
    except Exception as e:  # noqa: BLE001
        return ch, key, ["body is not JSON: %s" % e], 0, ""
    typ, event_ms = "", 0
    if ch == "webhook":
        ts = headers.get("X-Earshot-Timestamp", "")
        sig = headers.get("X-Earshot-Signature", "")
        if not ts.isdigit() or abs(time.time() - int(ts)) > 300:
            errs.append("timestamp missing or outside the 5 minute window")
        want = "v1=" + hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, sig):
            errs.append("bad signature")
        if doc.get("idempotency_key") != key:
            errs.append("idempotency_key differs from the header")
        for f in ("id", "type", "brand", "category", "severity", "text", "url", "author",
                  "created_at"):
            if f not in doc and doc.get("type") in ("mention", "churn"):
                errs.append("missing field " + f)
        typ, event_ms = doc.get("type", ""), doc.get("event_ms", 0)
    elif ch == "slack":
        if not isinstance(doc.get("text"), str) or not isinstance(doc.get("blocks"), list):
            errs.append("slack payload needs text and blocks")
        typ = "slack"
    elif ch == "dingtalk":
        ts = query.get("timestamp", [""])[0]
        sign = query.get("sign", [""])[0]
        want = base64.b64encode(hmac.new(secret, (ts + "\n").encode() + secret,
                                         hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(want, sign):
            errs.append("bad dingtalk sign")
        if not ts.isdigit() or abs(time.time() * 1000 - int(ts)) > 3600 * 1000:
            errs.append("dingtalk timestamp outside one hour")
        md = doc.get("markdown") or {}
        if doc.get("msgtype") != "markdown" or "title" not in md or "text" not in md:
            errs.append("dingtalk payload needs msgtype markdown with title and text")
    elif ch == "wecom":
        md = doc.get("markdown") or {}
        if doc.get("msgtype") != "markdown" or not isinstance(md.get("content"), str):
            errs.append("wecom payload needs msgtype markdown with content")
        elif len(md["content"].encode()) > 4096:
            errs.append("wecom content over 4096 bytes")
    elif ch == "feishu":
        ts = str(doc.get("timestamp", ""))
        want = base64.b64encode(hmac.new((ts + "\n").encode() + secret, b"",
                                         hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(want, str(doc.get("sign", ""))):
            errs.append("bad feishu sign")
        if doc.get("msg_type") not in ("interactive", "post", "text"):
            errs.append("feishu msg_type")
    return ch, key, errs, event_ms, typ


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):  # quiet
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(n) if n else b""
        u = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(u.query)
        ch, key, errs, event_ms, typ = check(u.path, self.headers, query, body)
        if args.delay_path and u.path.startswith(args.delay_path):
            time.sleep(args.delay_ms / 1000.0)
        with lock:
            state["n"] += 1
            nth = state["n"]
        status = 200
        if u.path.startswith("/fail") or nth <= args.fail_first:
            status = 500
        elif errs:
            status = 401
        reply = {"webhook": b'{"ok":true}', "slack": b"ok",
                 "dingtalk": b'{"errcode":0,"errmsg":"ok"}', "wecom": b'{"errcode":0,"errmsg":"ok"}',
                 "feishu": b'{"code":0,"msg":"success"}'}.get(ch, b"{}")
        if status != 200:
            reply = b'{"error":"test"}'
        rec = {"channel": ch, "path": u.path, "key": key, "ok": not errs, "errors": errs,
               "status": status, "type": typ, "recv_ms": now_ms(), "event_ms": event_ms}
        if args.keep_body:
            rec["body"] = body.decode("utf-8", "replace")
        record(rec)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


class SMTPHandler(socketserver.StreamRequestHandler):
    def setup(self):
        super().setup()
        self.tls = False

    def out(self, line):
        self.wfile.write((line + "\r\n").encode())
        self.wfile.flush()

    def handle(self):
        self.out("220 earshot-test-sink ESMTP")
        mail_from, rcpts = None, []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode("utf-8", "replace").strip()
            up = cmd.upper()
            if up.startswith("EHLO") or up.startswith("HELO"):
                caps = ["250-earshot-test-sink", "250-8BITMIME", "250-SIZE 10485760"]
                if args.starttls and not self.tls:
                    caps.append("250-STARTTLS")
                caps.append("250 OK")
                for c in caps:
                    self.out(c)
            elif up == "STARTTLS" and args.starttls and not self.tls:
                self.out("220 go ahead")
                ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                ctx.load_cert_chain(args.cert, args.key)
                try:
                    self.request = ctx.wrap_socket(self.request, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    # the client refused our certificate (or hung up): nothing was sent
                    record({"channel": "email", "event": "tls_failed", "key": "", "ok": False,
                            "errors": [str(e)], "status": 0, "recv_ms": now_ms()})
                    return
                self.rfile = self.request.makefile("rb")
                self.wfile = self.request.makefile("wb")
                self.tls = True
            elif up.startswith("MAIL FROM:"):
                mail_from, rcpts = cmd[10:].strip(), []
                self.out("250 OK")
            elif up.startswith("RCPT TO:"):
                rcpts.append(cmd[8:].strip())
                self.out("250 OK")
            elif up == "DATA":
                self.out("354 end with <CRLF>.<CRLF>")
                data = []
                while True:
                    l = self.rfile.readline()
                    if not l or l == b".\r\n":
                        break
                    if l.startswith(b".."):
                        l = l[1:]
                    data.append(l)
                raw = b"".join(data)
                msg = email.message_from_bytes(raw)
                errs = []
                for h in ("Date", "Message-ID", "From", "To", "Subject", "Content-Type"):
                    if not msg.get(h):
                        errs.append("missing header " + h)
                subj = str(email.header.make_header(email.header.decode_header(msg.get("Subject", ""))))
                text = msg.get_payload(decode=True) or b""
                rec = {"channel": "email", "key": msg.get("X-Earshot-Idempotency-Key", ""),
                       "ok": not errs, "errors": errs, "status": 250, "recv_ms": now_ms(),
                       "from": mail_from, "rcpt": rcpts, "subject": subj, "tls": self.tls,
                       "tls_version": self.request.version() if self.tls else None,
                       "text": text.decode("utf-8", "replace")}
                record(rec)
                self.out("250 OK queued")
            elif up == "RSET" or up == "NOOP":
                self.out("250 OK")
            elif up == "QUIT":
                self.out("221 bye")
                return
            else:
                self.out("502 not implemented")


class SMTPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    global args, log
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--secret", default="s3cret")
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--keep-body", action="store_true")
    p.add_argument("--delay-path", help="answer requests under this path after --delay-ms")
    p.add_argument("--delay-ms", type=int, default=0)
    p.add_argument("--smtp-port-file")
    p.add_argument("--starttls", action="store_true")
    p.add_argument("--cert")
    p.add_argument("--key")
    args = p.parse_args()
    log = open(args.log, "a", encoding="utf-8")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    if args.smtp_port_file:
        smtpd = SMTPServer(("127.0.0.1", 0), SMTPHandler)
        threading.Thread(target=smtpd.serve_forever, daemon=True).start()
        with open(args.smtp_port_file + ".tmp", "w") as f:
            f.write(str(smtpd.server_address[1]))
        import os
        os.rename(args.smtp_port_file + ".tmp", args.smtp_port_file)
    import os
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(httpd.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    httpd.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
