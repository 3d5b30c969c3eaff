#!/usr/bin/env python3
"""A mock model server for the real agent CLIs, on loopback only.

Speaks the three APIs the agents use, in their streaming forms:

- Anthropic Messages (Claude Code): POST /v1/messages, SSE when "stream".
- OpenAI Responses (Codex, a `model_providers` entry with
  `wire_api = "responses"`; Copilot CLI, COPILOT_PROVIDER_WIRE_API):
  POST <base>/responses, SSE.
- Gemini (Gemini CLI, GOOGLE_GEMINI_BASE_URL):
  POST /v1beta/models/<model>:streamGenerateContent?alt=sse, and
  :generateContent / :countTokens for its side requests.

A conversation request that offers a shell tool is answered, by the number
of tool results it carries, with: a file write with the agent's file tool
(only with --write; Claude, Gemini and Copilot's `create`), one shell tool call running
--command, then a final text. Anything else (titles, classifiers, token
counts) gets a short harmless answer.

  mock_model.py --command CMD [--write PATH] [--log FILE] [--hold tool,final]

Prints `port N` on stdout once listening, then one line per conversation
turn it answers: `write`, `tool` or `final`. Before answering a turn named
in --hold (`tool`: the shell call; `final`) it prints `hold <turn>` and
waits for a line on stdin: the test decides when the agent commits, and
how long it stays alive after. Ends when stdin closes (the test is gone).
Every request and answer is appended to --log as JSON lines, with a
timestamp, for debugging.
Python standard library only.
"""

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGS = None
LOG_LOCK = threading.Lock()
OUT_LOCK = threading.Lock()
RELEASE = threading.Semaphore(0)
STDIN_CLOSED = threading.Event()


def say(line):
    with OUT_LOCK:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def log(entry):
    if not ARGS.log:
        return
    with LOG_LOCK, open(ARGS.log, "a", encoding="utf-8") as f:
        f.write(json.dumps(dict(entry, t=round(time.time(), 3))) + "\n")


def hold(turn):
    if turn in ARGS.hold:
        say("hold " + turn)
        RELEASE.acquire()


def next_step(done):
    """The tool call to answer with after `done` tool results, or None
    for the final text: an optional file write (--write), then the shell
    command. Says which, holding the shell turn if asked."""
    steps = (["write"] if ARGS.write_path else []) + ["tool"]
    if done >= len(steps):
        return None
    if steps[done] == "tool":
        hold("tool")
    say(steps[done])
    return steps[done]


def sse(events):
    """events: (name or None, dict) pairs."""
    out = []
    for name, data in events:
        if name:
            out.append("event: " + name)
        out.append("data: " + json.dumps(data))
        out.append("")
    return ("\n".join(out) + "\n").encode()


# ------------------------------------------------------------ Anthropic

def anthropic(body):
    tools = [t.get("name") for t in body.get("tools") or []]
    messages = body.get("messages") or []
    done = sum(1 for m in messages if isinstance(m.get("content"), list)
               for c in m["content"] if isinstance(c, dict) and c.get("type") == "tool_result")
    step = next_step(done) if "Bash" in tools else None
    if step:
        if step == "write":
            name, args = "Write", {"file_path": ARGS.write_path, "content": "written by the agent\n"}
        else:
            name, args = "Bash", {"command": ARGS.command, "description": "Commit the change"}
        block = {"type": "tool_use", "id": "toolu_mock_%d" % done, "name": name, "input": {}}
        delta = {"type": "input_json_delta", "partial_json": json.dumps(args)}
        stop = "tool_use"
    else:
        if "Bash" in tools:
            hold("final")
            say("final")
        block = {"type": "text", "text": ""}
        delta = {"type": "text_delta", "text": "Done." if "Bash" in tools else "ok"}
        stop = "end_turn"
    model = body.get("model", "claude-mock")
    usage = {"input_tokens": 10, "output_tokens": 1}
    # One ID per turn, as the real API gives: transcripts count usage per message ID.
    message = {"id": "msg_mock_%d" % done, "type": "message", "role": "assistant", "model": model,
               "content": [], "stop_reason": None, "stop_sequence": None, "usage": usage}
    if not body.get("stream"):
        final = dict(block)
        if final["type"] == "text":
            final["text"] = delta["text"]
        else:
            final["input"] = json.loads(delta["partial_json"])
        message.update(content=[final], stop_reason=stop)
        return "application/json", json.dumps(message).encode()
    return "text/event-stream", sse([
        ("message_start", {"type": "message_start", "message": message}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                           "usage": {"output_tokens": 5}}),
        ("message_stop", {"type": "message_stop"}),
    ])


# ------------------------------------------------------------ OpenAI Responses

def responses(body):
    tools = body.get("tools") or []
    names = [t.get("name") or t.get("type") for t in tools]
    items = body.get("input") or []
    done = sum(1 for i in items if isinstance(i, dict) and i.get("type", "").endswith("_output"))
    shell = next((n for n in ("exec_command", "shell_command", "shell", "bash", "local_shell") if n in names), None)
    step = next_step(done) if shell else None
    if step == "write":
        arguments = json.dumps({"path": ARGS.write_path, "file_text": "written by the agent\n"})
        item = {"type": "function_call", "id": "fc_mock_0", "call_id": "call_mock_0", "name": "create",
                "arguments": arguments, "status": "completed"}
        return "text/event-stream", response_events(item, [], dict(item, arguments="", status="in_progress"))
    if step:
        args = {
            "exec_command": {"cmd": ARGS.command},
            "shell_command": {"command": ARGS.command},
            "shell": {"command": ["bash", "-lc", ARGS.command]},
            "bash": {"command": ARGS.command, "description": "Commit the change"},
        }.get(shell)
        if args is None:
            item = {"type": "local_shell_call", "id": "lsh_mock_1", "call_id": "call_mock_1",
                    "status": "completed", "action": {"type": "exec", "command": ["bash", "-lc", ARGS.command]}}
            return "text/event-stream", response_events(item, [])
        arguments = json.dumps(args)
        item = {"type": "function_call", "id": "fc_mock_1", "call_id": "call_mock_1", "name": shell,
                "arguments": arguments, "status": "completed"}
        added = dict(item, arguments="", status="in_progress")
        deltas = [("response.function_call_arguments.delta",
                   {"item_id": "fc_mock_1", "output_index": 0, "delta": arguments}),
                  ("response.function_call_arguments.done",
                   {"item_id": "fc_mock_1", "output_index": 0, "arguments": arguments})]
        return "text/event-stream", response_events(item, deltas, added)
    if shell:
        hold("final")
        say("final")
    text = "Done." if shell else "ok"
    part = {"type": "output_text", "text": text, "annotations": []}
    item = {"type": "message", "id": "msg_mock_1", "role": "assistant", "status": "completed", "content": [part]}
    where = {"item_id": "msg_mock_1", "output_index": 0, "content_index": 0}
    deltas = [("response.content_part.added", dict(where, part=dict(part, text=""))),
              ("response.output_text.delta", dict(where, delta=text)),
              ("response.output_text.done", dict(where, text=text)),
              ("response.content_part.done", dict(where, part=part))]
    return "text/event-stream", response_events(item, deltas, dict(item, status="in_progress", content=[]))


def response_events(item, deltas, added=None):
    """The Responses API stream of one output item, as OpenAI sends it."""
    usage = {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 5,
             "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 15}
    response = {"id": "resp_mock", "object": "response", "created_at": int(time.time()), "model": "mock-model",
                "status": "in_progress", "output": []}
    events = [("response.created", {"type": "response.created", "response": response})]
    events.append(("response.output_item.added",
                   {"type": "response.output_item.added", "output_index": 0, "item": added or item}))
    events += [(name, dict(data, type=name)) for name, data in deltas]
    events.append(("response.output_item.done", {"type": "response.output_item.done", "output_index": 0,
                                                  "item": item}))
    done = dict(response, status="completed", output=[item], usage=usage)
    events.append(("response.completed", {"type": "response.completed", "response": done}))
    return sse(events)


# ------------------------------------------------------------ Gemini

def gemini(path, body):
    usage = {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}
    if ":countTokens" in path:
        return "application/json", json.dumps({"totalTokens": 10}).encode()
    names = [d.get("name") for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]
    contents = body.get("contents") or []
    stream = ":streamGenerateContent" in path
    done = sum(1 for c in contents for p in c.get("parts") or [] if "functionResponse" in p)
    step = next_step(done) if stream and "run_shell_command" in names else None
    if step == "write":
        part = {"functionCall": {"name": "write_file",
                                 "args": {"file_path": ARGS.write_path, "content": "written by the agent\n"}}}
    elif step:
        part = {"functionCall": {"name": "run_shell_command",
                                 "args": {"command": ARGS.command, "description": "Commit the change"}}}
    elif stream and "run_shell_command" in names:
        hold("final")
        say("final")
        part = {"text": "Done."}
    else:
        # Side requests (routing, next speaker, summaries) ask for JSON.
        config = body.get("generationConfig") or body.get("config") or {}
        if config.get("responseMimeType") == "application/json":
            part = {"text": json.dumps({"reasoning": "mock", "model_choice": "flash",
                                        "complexity_reasoning": "mock", "complexity_score": 1,
                                        "next_speaker": "user"})}
        else:
            part = {"text": "ok"}
    response = {"candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP",
                                "index": 0}],
                "usageMetadata": usage, "modelVersion": "gemini-mock"}
    if stream:
        return "text/event-stream", sse([(None, response)])
    return "application/json", json.dumps(response).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, kind, data):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        log({"answer": status, "path": self.path, "body": data.decode(errors="replace")})

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_POST(self):
        raw = self.read_body()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        log({"request": "POST", "path": self.path, "headers": dict(self.headers), "body": body})
        path = self.path.split("?")[0]
        if path.startswith("/v1/messages/count_tokens"):
            self.answer(200, "application/json", b'{"input_tokens": 10}')
        elif path.startswith("/v1/messages"):
            self.answer(200, *anthropic(body))
        elif path.endswith("/responses"):
            self.answer(200, *responses(body))
        elif "/models/" in path and ":" in path:
            self.answer(200, *gemini(self.path, body))
        else:
            self.answer(404, "application/json", b'{"error": "not mocked"}')

    def do_GET(self):
        log({"request": "GET", "path": self.path, "headers": dict(self.headers)})
        if self.path.split("?")[0].endswith("/models"):
            self.answer(200, "application/json", b'{"object": "list", "data": [], "models": []}')
        else:
            self.answer(404, "application/json", b'{"error": "not mocked"}')

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def releases():
    for _ in sys.stdin:
        RELEASE.release()
    STDIN_CLOSED.set()


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--command", required=True)
    parser.add_argument("--log")
    parser.add_argument("--write", dest="write_path",
                        help="Claude, Gemini and Copilot: first write this file (absolute path) with the file tool")
    parser.add_argument("--hold", default="", type=lambda s: s.split(","),
                        help="turns to hold until a line on stdin: tool, final or tool,final")
    ARGS = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    say("port %d" % server.server_address[1])
    threading.Thread(target=releases, daemon=True).start()
    STDIN_CLOSED.wait()


if __name__ == "__main__":
    main()
