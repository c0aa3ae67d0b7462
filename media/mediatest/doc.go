// Package mediatest has an in-memory media.Store and TestStore, the conformance suite every
// media.Store implementation runs.
package mediatest
