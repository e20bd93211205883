#!/usr/bin/env python3
"""Init time of each ProEventa Lambda function from a local start: the bootstrap is started
against a minimal stand-in for the Lambda Runtime API on this machine, and the time from process
start until its first response reaches that API is printed, with the function's own `init_ms`
log figure (process start in main to ready to poll). Figures, not a test: nothing asserts them.

usage: measure_init.py BIN_DIR [RUNS]   (BIN_DIR holds the native api-* and job-expire-holds builds;
run from the workspace root after `proeventa migrate` has made the SQLite file in DATABASE_URL)
"""

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# One cheap first request per function, as API Gateway (payload v2) or EventBridge delivers it.
FIRST_EVENTS = {
    "api-auth": ("GET", "/auth/me"),
    "api-catalog": ("GET", "/events/events"),
    "api-reservations": ("GET", "/reservations/reservations"),
    "api-tickets": ("GET", "/reservations/tickets"),
    "api-payments": ("GET", "/payments"),
    "api-checkin": ("GET", "/checkin/key"),
    "api-meta": ("GET", "/health"),
    "job-expire-holds": None,
}


def http_event(method, path):
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "local.execute-api", "accept": "application/json"},
        "requestContext": {
            "apiId": "local",
            "domainName": "local.execute-api",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "measure"},
            "requestId": "measure",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "25/Nov/2026:07:30:00 +0000",
            "timeEpoch": 0,
        },
        "isBase64Encoded": False,
    }


SCHEDULED_EVENT = {
    "version": "0",
    "id": "measure",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "time": "2026-11-25T07:31:00Z",
    "resources": [],
    "detail": {},
}


class RuntimeApi(BaseHTTPRequestHandler):
    """Hands out one event, then records when its response arrives."""

    event = b"{}"
    answered = threading.Event()
    answer = None

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.endswith("/runtime/invocation/next"):
            if RuntimeApi.answered.is_set():
                time.sleep(30)  # the next invocation never comes; the process is stopped meanwhile
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", "measure-1")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:local:0:function:measure")
            self.send_header("Content-Length", str(len(RuntimeApi.event)))
            self.end_headers()
            self.wfile.write(RuntimeApi.event)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        RuntimeApi.answer = (self.path, body)
        self.send_response(202)
        self.end_headers()
        RuntimeApi.answered.set()


def measure(binary, event, env):
    RuntimeApi.event = json.dumps(event).encode()
    RuntimeApi.answered.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}")
    started = time.perf_counter()
    process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    answered = RuntimeApi.answered.wait(60)
    elapsed_ms = (time.perf_counter() - started) * 1000
    process.terminate()
    _, stderr = process.communicate()
    server.shutdown()
    path, body = RuntimeApi.answer or ("", b"")
    if not answered or not path.endswith("/response"):
        raise SystemExit(f"{binary}: no response ({path}): {body[:300]!r}\n{stderr.decode()[-2000:]}")
    init_ms = None
    for line in stderr.decode().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        fields = record.get("fields", record)
        if fields.get("message") == "initialized":
            init_ms = fields.get("init_ms")
    return elapsed_ms, init_ms, json.loads(body or b"{}")


def main():
    bin_dir = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    env = dict(
        os.environ,
        AWS_LAMBDA_FUNCTION_NAME="measure",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_LAMBDA_LOG_GROUP_NAME="measure",
        AWS_LAMBDA_LOG_STREAM_NAME="measure",
        JWT_SECRET=os.environ.get("JWT_SECRET", "measure-init-secret-0123456789abcdef"),
        # api-tickets and api-checkin refuse to start without the ticket key (64 hex digits).
        TICKET_SIGNING_KEY=os.environ.get("TICKET_SIGNING_KEY", "ab" * 32),
        LOG_FORMAT="json",
    )
    print(f"{'function':<18} {'to first answer (median of %d)' % runs:>32} {'init_ms (median)':>18}  first answer")
    for name, first in FIRST_EVENTS.items():
        event = SCHEDULED_EVENT if first is None else http_event(*first)
        results = [measure(os.path.join(bin_dir, name), event, env) for _ in range(runs)]
        total = statistics.median(r[0] for r in results)
        inits = [r[1] for r in results if r[1] is not None]
        init = f"{statistics.median(inits):.2f} ms" if inits else "-"
        answer = results[-1][2]
        shown = answer.get("statusCode", answer) if isinstance(answer, dict) else answer
        print(f"{name:<18} {total:>29.2f} ms {init:>18}  {shown}")


if __name__ == "__main__":
    main()
