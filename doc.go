// Package tldw is an embeddable, multi-user media-knowledge server ("too long; didn't
// watch"): people ingest video, audio and documents, and the server turns them into
// searchable text, transcripts and summaries. It speaks the /api/v1 contract of the Python
// tldw_server, so existing tldw clients work against it unchanged.
//
// The package has one entry point, [App]. A host builds a [Config] (usually with
// [FromEnv]), calls [New], optionally replaces dependency fields, then [App.Open] and
// either [App.Serve] on a listener or mounts [App.Handler] in its own mux:
//
//	cfg, err := tldw.FromEnv(os.LookupEnv)
//	app := tldw.New(cfg)
//	if err := app.Open(ctx); err != nil { ... }
//	defer app.Close()
//	mux.Handle("/tldw/", http.StripPrefix("/tldw", app.Handler()))
//
// With no configuration at all the App keeps everything in ./tldw-data: a SQLite database,
// uploaded media and generated secrets. Setting DATABASE_URL to a postgres:// URL switches to
// PostgreSQL; REDIS_URL adds Redis. Every configuration key is listed in config.go.
//
// Where to look next:
//   - audit: the security event log, its sinks and the tamper-evident hash chain
//   - storage/sqlstore: the relational store (SQLite and PostgreSQL) and migrations
//   - storage/redisstore: shared state for several replicas
//   - internal/httpapi: routes, middleware and the error table
//   - hosts/tldwd: the reference server and its command line
package tldw
