// Package httpapi is tldw's HTTP layer: the route table, middleware (request ids, panic
// recovery, access log, security headers, trusted hosts, CORS, metrics), the one error table,
// health and metrics endpoints, and the OpenAPI document with its /docs page.
//
// Routes are grouped in areas (routes.go): types such as accountsAPI or mediaAPI that embed
// the shared core (options, logging, routing, the authentication gate, JSON and error
// writing, rate limits) and list their routes with a routes method. A route may declare
// itself streaming (route.Stream, stream.go): Server-Sent Events through serveSSE, WebSockets
// through acceptWebSocket (websocket.go).
//
// It is the only package that imports gorilla/mux and coder/websocket. Package tldw builds a
// Server from Options and mounts it; everything the handlers need arrives through Options,
// never by importing storage adapters.
package httpapi
