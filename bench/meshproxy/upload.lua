-- wrk script: POST a 4 MiB body (bench/meshproxy/peers.ts UPLOAD_BYTES) to the app through the hop.
wrk.method = "POST"
wrk.body = string.rep("u", 4 * 1024 * 1024)
wrk.headers["Content-Type"] = "application/octet-stream"
