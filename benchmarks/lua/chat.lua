-- wrk script: POST a chat completion with the Authorization header; one JSON line at the end.
-- Environment (read once per wrk thread):
--   BENCH_PATH    request path (default /v1/chat/completions)
--   BENCH_MODEL   model name (default bench-model)
--   BENCH_KEY     bearer key; unset sends no Authorization header (the bare upstream)
--   BENCH_STREAM  "1": "stream": true, the answer is SSE read to its end (latency = whole stream)
local stream = os.getenv("BENCH_STREAM") == "1"
local key = os.getenv("BENCH_KEY")

wrk.method = "POST"
wrk.path = os.getenv("BENCH_PATH") or "/v1/chat/completions"
wrk.headers["Content-Type"] = "application/json"
if key and key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end
wrk.body = string.format(
  '{"model":"%s","messages":[{"role":"user","content":"Say hello."}],"max_tokens":16%s}',
  os.getenv("BENCH_MODEL") or "bench-model",
  stream and ',"stream":true' or ""
)

-- Latencies in microseconds; errors.status counts HTTP statuses above 399.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
