"""A stand-in model server for the demo: speaks the OpenAI chat-completions
wire format on loopback and answers by echoing the user's last message,
saying how many earlier messages of the conversation it was given."""
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        turns = [m for m in body.get("messages", []) if m.get("role") in ("user", "assistant")]
        user = turns[-1]["content"] if turns else ""
        earlier = len(turns) - 1
        reply = json.dumps({
            "id": "chatcmpl-demo",
            "object": "chat.completion",
            "model": body.get("model", "echo"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": f"(echo, {earlier} earlier) {user}"}, "finish_reason": "stop"}],
        }).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
