// Package audittest provides an in-memory audit sink for tests of code that emits audit
// events, and a conformance suite for audit.Sink implementations.
package audittest
