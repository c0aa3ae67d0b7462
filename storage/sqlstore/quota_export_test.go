package sqlstore

// SetLedgerSweepBatch sets how many reservations one Sweep transaction releases.
func SetLedgerSweepBatch(l *Ledger, n int) { l.sweepBatch = n }
