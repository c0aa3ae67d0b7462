// Command tldwload is the load harness: it starts tldw in-process with the embedded default
// (SQLite in a temporary directory) and measures, in one run,
//
//   - GET /api/v1/auth/verify with a valid token, next to a bare net/http handler (ratio)
//   - logins/s, next to raw argon2id hashes/s with the same parameters (ratio)
//   - p99 latency of a cheap authenticated GET while logins saturate the CPU
//
// Usage: go run ./internal/cmd/tldwload [-duration 5s] [-concurrency 8] [-redis redis://127.0.0.1:6379/0]
// All traffic goes to loopback, bounded by -duration. With -redis the server shares rate
// limits, lockout and session revocation through that Redis (REDIS_URL), as replicas do;
// its keys live under "tldw:", so use a database of its own.
package main
