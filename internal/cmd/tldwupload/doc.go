// Command tldwupload is the upload load harness. It runs tldw in a child process (the
// embedded default: SQLite and the directory store in a temporary directory) and measures,
// in one run:
//
//   - one large upload through POST /api/v1/media/add, next to a raw io.Copy of the same
//     bytes to a file on the same disk (ratio; goal >= 0.7), with the server's peak RSS
//     (VmHWM; goal <= 64 MiB)
//   - the throughput of many parallel small uploads
//
// Usage: go run ./internal/cmd/tldwupload [-size-mb 1024] [-parallel 100] [-small-kb 1024]
// All traffic goes to loopback.
package main
