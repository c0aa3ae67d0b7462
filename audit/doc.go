// Package audit records security-relevant events: who did what, to which target, from
// where, and whether it worked. It defines the [Event], the [Sink] interface every
// destination implements, the action catalogue, the tamper-evident hash chain and the
// audit log file. It imports only the standard library; the database sink lives in
// storage/sqlstore, the HTTP API in internal/httpapi, the CLI in hosts/tldwd.
//
// # Writing events
//
// Code that audits something calls one Sink, built with [Multi] over the real sinks:
//
//	sink := audit.Multi(audit.MultiOptions{Logger: log}, dbSink, fileSink)
//	err := sink.Write(r.Context(), audit.Event{
//		Action: audit.LoginFailed, Username: name, IP: ip, UserAgent: ua,
//		RequestID: rid, Error: "bad password",
//	})
//
// Multi fills the time, runs [Redact] (no password, token, key or other credential reaches a
// sink), detaches the write from the request's cancellation under its own timeout, writes
// every sink concurrently, and succeeds when at least one sink did.
//
// # Actions
//
// Event.Action holds a stable lower snake case name from the catalogue ([Actions]):
// login_success, login_failed, logout, token_refresh, api_key_created, and so on. The Python
// tldw_server's names ("auth.login.failure", "user_login", "admin.user.update", ...) are
// accepted as aliases by [Normalize], [Lookup] and [Expand], so queries written for the
// original keep working.
//
// # Hash chain
//
// The database sink stores each event as a [Record]: a gapless sequence number, the previous
// record's hash and its own hash, [Hash](prev, event) = SHA-256 over the previous hash, a zero
// byte and [Canonical](event). [Verify] streams the records and reports the first broken
// link: a modified row, a missing (deleted) row, reordered rows, or a truncated tail. A
// hash chain alone cannot show that rows were cut off the end, nor that someone rewrote it
// wholesale, so the server periodically (and on shutdown) signs a [Checkpoint] of the head
// with an HMAC key kept like the JWT key, and writes it to the log file and the application
// log; Verify compares the chain with the newest one. A retention purge records a purge
// checkpoint (the last removed row's seq and hash) and verification starts after it.
//
// # Log file formats
//
// [FileSink] appends one line per event to AUDIT_LOG_FILE and reopens the file on SIGHUP
// (the host calls [FileSink.Reopen]). AUDIT_LOG_FORMAT selects the format.
//
// text (the default), one event per line, fields separated by single spaces:
//
//	2026-11-28T10:00:00.000000Z LOGIN_FAILED IP: 203.0.113.7 user=alice outcome=failure reason=bad_password request_id=r1
//	2026-11-28T10:00:05.000000Z LOGIN_SUCCESS IP: 2001:db8::7 user=bob user_id=2 outcome=success request_id=r2 user_agent=curl/8.5.0
//	2026-11-28T10:05:00.000000Z AUDIT_CHECKPOINT kind=head seq=42 hash=9f2c… mac=51aa…
//
// The line starts with the UTC time (RFC 3339, microseconds), then the upper-cased action,
// then "IP: <addr>" whenever the client address is known, before any field a client can
// influence; the rest is key=value (see [FormatText] for the order and the escaping rules:
// no value ever contains whitespace or a control character). This is what the deployment
// guide's fail2ban filter expects:
//
//	[Definition]
//	failregex = ^.*LOGIN_FAILED.*IP:\s+<HOST>.*$
//
// json: one JSON object per line, with the keys time, user_id, username, action,
// target_type, target_id, success, ip, user_agent, request_id, method, path, error and
// details (empty ones omitted, success always present); a checkpoint line is
// {"checkpoint":{"seq":42,"hash":"…","time":"…","kind":"head","mac":"…"}}. See [FormatJSON].
//
// # Exports
//
// CSV exports pass every cell through [CSVSafe], which neutralises spreadsheet formula
// injection.
package audit
