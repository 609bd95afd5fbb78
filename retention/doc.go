// Package retention is the retention sweeper: it purges, per connection
// and object type, the stored objects older than the connection's window
// (store.Connection.RetentionDays, else the manifest's retention_days),
// with their index, membership and edge entries (store.PurgeExpired),
// and signs a purge receipt (receipt.PredicatePurge) for every purge
// that removed something. It also drops run tapes and dead-letter items
// older than their own windows (Config.TapeRetention, DLQRetention).
//
// The clock is injectable (Config.Now): a test moves it forward and calls
// Sweep; `sluice serve` runs Start/Shutdown beside the runs service.
package retention
