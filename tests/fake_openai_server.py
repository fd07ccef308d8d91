"""An OpenAI-compatible fake model server on loopback, for fault tests, browser tests and the load benchmark.

It speaks the parts of the API Frontline's openai backend uses: POST /v1/chat/completions and
POST /v1/completions, streamed (server-sent events) or not, and GET /v1/models. What it does is set
by attributes (or POST /_control with JSON, for a server in another process):

    delay      seconds before the first byte of every answer (the "model time" in the benchmark)
    mode       ok | down (HTTP 503) | error500 | unauthorized (401) | slow (waits slow_s) |
               garbage (200 with text that is not JSON / not SSE) | drop (closes the socket) |
               off_character (valid answers that break character: "As an AI language model ...")
    fail_next  the next N requests fail as `fail_mode` (default down), then it answers normally

The default replies sound like a caller: the line repeats any facts the stage direction asks the
customer to give ("gives account number 55-2041"), so the actor's guard accepts it.

Run it by hand:  python tests/fake_openai_server.py --port 8099 --delay 0.5
"""
from __future__ import annotations

import argparse
import itertools
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

LINES = [
    "I was charged twice this month and I want it put right.",
    "Okay. So what happens now?",
    "Right, I understand. Please just get this sorted.",
    "That is what I was hoping to hear.",
    "Fine. How long will that take?",
    "I have been waiting on this for a while now.",
    "Alright, thank you. Go on.",
    "I just want the bill to be correct.",
    "Can you tell me what went wrong?",
    "Okay, that sounds fair enough.",
    "I see. And will it show on my next statement?",
    "Good. I appreciate you looking into it.",
]
_GIVES = re.compile(r"\bgives ([^\]]+?)(?:\s+\(irritated|\s+and says:|\s+and (?:refuses|asks|demands|insists)|, then|\]|$)")


def caller_line(prompt: str, counter: itertools.count) -> str:
    """A plain caller's line; it states the facts the last stage direction asks for."""
    directions = re.findall(r"\[([^\]]*)\]", prompt)
    last = directions[-1] if directions else ""
    start = next(counter)
    fresh = [LINES[(start + i) % len(LINES)] for i in range(len(LINES))]
    line = next((ln for ln in fresh if ln not in prompt), fresh[0])     # never repeat a line already in this call
    if "goodbye" in last or "ends the call" in last or "hangs up" in last:
        line = "Alright. Goodbye."
    m = _GIVES.search(last)
    if m:
        line = f"Sure, {m.group(1).strip().rstrip('.,')}. " + line
    return line


class FakeOpenAIServer:
    def __init__(self, *, port: int = 0, delay: float = 0.0, mode: str = "ok", slow_s: float = 30.0,
                 responder: Callable[[str], str] | None = None, host: str = "127.0.0.1"):
        self.delay, self.mode, self.slow_s = delay, mode, slow_s
        self.fail_next, self.fail_mode = 0, "down"
        self.requests: list[dict] = []
        self._counter = itertools.count()
        self.responder = responder or (lambda prompt: caller_line(prompt, self._counter))
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):      # quiet
                pass

            def do_GET(self):
                if self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [{"id": "fake-customer", "object": "model", "owned_by": "frontline-tests"}]})
                else:
                    self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    return self._json(400, {"error": {"message": "request body is not JSON"}})
                if self.path == "/_control":
                    for key in ("delay", "mode", "slow_s", "fail_next", "fail_mode"):
                        if key in body:
                            setattr(server, key, body[key])
                    return self._json(200, {"ok": True})
                path = self.path.rstrip("/")
                if path.endswith("/chat/completions"):
                    kind = "chat"
                    prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
                elif path.endswith("/completions"):
                    kind = "completion"
                    prompt = str(body.get("prompt", ""))
                else:
                    return self._json(404, {"error": {"message": f"no route {self.path}"}})
                with server._lock:
                    mode = server.mode
                    if server.fail_next > 0:
                        server.fail_next -= 1
                        mode = server.fail_mode
                    server.requests.append({"kind": kind, "stream": bool(body.get("stream")), "mode": mode,
                                            "at": time.monotonic(), "model": body.get("model"),
                                            "auth": self.headers.get("Authorization", "")})
                server.handle(self, kind, prompt, body, mode)

            def _json(self, status: int, obj: dict) -> None:
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self._httpd.request_queue_size = 256
        self.port = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def handle(self, h: BaseHTTPRequestHandler, kind: str, prompt: str, body: dict, mode: str) -> None:
        if mode == "drop":
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        if mode == "slow":
            time.sleep(self.slow_s)
        elif self.delay:
            time.sleep(self.delay)
        if mode == "down":
            return h._json(503, {"error": {"message": "the model is loading", "type": "server_error"}})
        if mode == "error500":
            return h._json(500, {"error": {"message": "internal error", "type": "server_error"}})
        if mode == "unauthorized":
            return h._json(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}})
        stream = bool(body.get("stream"))
        if mode == "garbage":
            data = (b"data: {this is not json\n\n" if stream else b"<html><body>502 Bad Gateway</body></html>")
            h.send_response(200)
            h.send_header("Content-Type", "text/event-stream" if stream else "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            return
        text = ("As an AI language model, I am happy to help you with your account. How can I assist you today?"
                if mode == "off_character" else self.responder(prompt))
        created, rid, model = int(time.time()), f"fake-{time.monotonic_ns()}", body.get("model", "fake-customer")
        if not stream:
            choice = ({"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"} if kind == "chat"
                      else {"index": 0, "text": text, "finish_reason": "stop"})
            return h._json(200, {"id": rid, "object": "chat.completion" if kind == "chat" else "text_completion", "created": created,
                                 "model": model, "choices": [choice],
                                 "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": len(text) // 4,
                                           "total_tokens": (len(prompt) + len(text)) // 4}})
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Cache-Control", "no-cache")
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True
        words = text.split(" ")
        for i, word in enumerate(words):
            piece = word if i == 0 else " " + word
            if kind == "chat":
                chunk = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
                         "choices": [{"index": 0, "delta": {"content": piece} if i else {"role": "assistant", "content": piece},
                                      "finish_reason": None}]}
            else:
                chunk = {"id": rid, "object": "text_completion", "created": created, "model": model,
                         "choices": [{"index": 0, "text": piece, "finish_reason": None}]}
            h.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        final = ({"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
                  "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]} if kind == "chat" else
                 {"id": rid, "object": "text_completion", "created": created, "model": model,
                  "choices": [{"index": 0, "text": "", "finish_reason": "stop"}]})
        h.wfile.write(f"data: {json.dumps(final)}\n\ndata: [DONE]\n\n".encode())
        h.wfile.flush()

    def start(self) -> "FakeOpenAIServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "FakeOpenAIServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description="OpenAI-compatible fake model server (loopback)")
    ap.add_argument("--port", type=int, default=8099)
    ap.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    ap.add_argument("--mode", default="ok")
    args = ap.parse_args()
    srv = FakeOpenAIServer(port=args.port, delay=args.delay, mode=args.mode)
    print(f"fake OpenAI server on {srv.url} (delay {args.delay}s, mode {args.mode})", flush=True)
    try:
        srv._httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
