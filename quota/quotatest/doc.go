// Package quotatest holds in-memory fakes and conformance suites for package quota's
// interfaces: MemLedger and TestLedger for quota.Ledger (run by the memory, SQLite and
// PostgreSQL ledgers), and TestLimiter for quota.Limiter.
package quotatest
