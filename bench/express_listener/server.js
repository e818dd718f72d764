// The docs' minimal Node.js webhook listener (1-quickstart.txt, Section 9), as the baseline
// for bench/bench_listener.py. Signature verification is the docs' code, unchanged:
// express.json with a verify hook capturing the raw body, hex HMAC-SHA256 of
// `${timestamp}.${rawBody}`, 400 on missing headers, 401 on a mismatch, 200 {ok: true}.
//
// Added for the bench, so that lost / duplicate / wrongly accepted events are computed the
// same way as for our listener:
//   - accepted events are deduplicated by (messageId, sequence) and counted;
//   - GET /stats returns the counters and the keys accepted for the first time, in order.
// Removed: the docs' console.log of every verified payload (logging is not verification,
// and 10,000 lines on a pipe would measure the pipe).
//
// Listens on 127.0.0.1 only, on PORT (default 0 = any free port), and prints its webhook URL
// as the first line of stdout.
import crypto from "node:crypto";
import express from "express";

const app = express();
const webhookSecret = process.env.RC_WEBHOOK_SECRET ?? "rc_secret_abc123";

const seen = new Set();
const stats = { accepted: 0, rejected: 0, duplicates: 0, firstKeys: [] };

app.use(
  express.json({
    verify(req, _res, buffer) {
      req.rawBody = buffer.toString("utf8");
    },
  }),
);

app.post("/webhooks/red-cloud", (req, res) => {
  const timestamp = req.header("X-RedCloud-Timestamp");
  const signature = req.header("X-RedCloud-Signature");
  const rawBody = req.rawBody ?? "";

  if (!timestamp || !signature) {
    stats.rejected += 1;
    return res.status(400).json({ error: "Missing signing headers" });
  }

  const expectedSignature = crypto
    .createHmac("sha256", webhookSecret)
    .update(`${timestamp}.${rawBody}`)
    .digest("hex");

  if (signature !== expectedSignature) {
    stats.rejected += 1;
    return res.status(401).json({ error: "Invalid signature" });
  }

  stats.accepted += 1;
  const { messageId, sequence } = req.body ?? {};
  if (typeof messageId === "string" && Number.isInteger(sequence)) {
    const key = `${messageId}|${sequence}`;
    if (seen.has(key)) {
      stats.duplicates += 1;
    } else {
      seen.add(key);
      stats.firstKeys.push(key);
    }
  }
  return res.status(200).json({ ok: true });
});

app.get("/stats", (_req, res) => res.json(stats));

const server = app.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  const { port } = server.address();
  console.log(`listening on http://127.0.0.1:${port}/webhooks/red-cloud`);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
