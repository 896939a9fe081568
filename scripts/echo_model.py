"""A stand-in model server for the demo: speaks the OpenAI chat-completions
wire format on loopback and answers by echoing the user's message."""
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        user = next((m["content"] for m in body.get("messages", []) if m.get("role") == "user"), "")
        reply = json.dumps({
            "id": "chatcmpl-demo",
            "object": "chat.completion",
            "model": body.get("model", "echo"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": f"(echo) {user}"}, "finish_reason": "stop"}],
        }).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
