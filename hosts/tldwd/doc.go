// Command tldwd is the reference tldw server and its command line.
//
//	tldwd [serve]        serve HTTP (the default)
//	tldwd migrate up     apply pending database migrations
//	tldwd migrate status list applied and pending migrations
//	tldwd check-config   print the effective configuration, secrets redacted, and warnings
//	tldwd gen-secret     print a random 64-byte base64 secret (for JWT_SECRET_KEY)
//	tldwd healthcheck    exit 0 when /api/v1/health/ready answers 200 (Docker HEALTHCHECK)
//	tldwd version        print the version
//	tldwd audit verify   recompute the audit hash chain; tldwd audit export [--format csv|jsonl|json]
//	tldwd user ...       create, list, set-role, set-audio-tier, set-password, deactivate, activate, unlock
//	tldwd code ...       create, list, revoke registration codes
//	tldwd quota reconcile [--user N] [--fix]  recompute storage usage and report drift
//	tldwd media ...      jobs, cancel, retry, reprocess processing jobs (--wait follows the item)
//
// Flags (before or after the command): --addr host:port (default 127.0.0.1:8000, also
// TLDW_ADDR) and --env-file path (default .env when present). Real environment variables win
// over the env file. The host only reads configuration, composes a tldw.App and listens;
// everything else lives in the library.
package main
