// Package httpapi is tldw's HTTP layer: the route table, middleware (request ids, panic
// recovery, access log, security headers, trusted hosts, CORS, metrics), the one error table,
// health and metrics endpoints, and the OpenAPI document with its /docs page.
//
// It is the only package that imports gorilla/mux. Package tldw builds a Server from Options
// and mounts it; everything the handlers need arrives through Options, never by importing
// storage adapters.
package httpapi
