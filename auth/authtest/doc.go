// Package authtest holds test helpers for package auth: in-memory implementations of every
// auth store interface (NewMemory) and conformance suites that every implementation runs.
//
// The memory stores follow the contracts documented in auth/store.go exactly, so they serve
// both as fakes for tests of auth.Service and its callers and as the reference the SQL and
// Redis stores are compared with. They are safe for concurrent use.
package authtest
