// Package quota accounts for what users consume: storage bytes through a Ledger that
// reserves before a byte is accepted (so parallel uploads can never overshoot a quota, on one
// replica or ten), and request rates through a Limiter (GCRA: smooth with bursts). The
// implementations live in adapters (storage/sqlstore for the Ledger, storage/redisstore for a
// shared Limiter); quotatest has in-memory fakes and the conformance suites.
package quota
