// Package dlq is the dead-letter queue service: it lists, shows, replays
// and deletes the items the engine (failing sync and backfill pages),
// package webhooks (failing events) and package actions (failing
// executes) leave in the store (store.DLQItem).
//
// # Replay
//
// Tape mode re-runs the item's tape through engine.Replay on the
// connection's current module, offline: nothing is written and nothing
// reaches the remote. It succeeds when the call now completes without an
// error (a fixed module handles the answers that broke the old one); its
// digests go in the receipt. Live mode re-runs the failed export against
// the live remote: a sync or backfill page through the connector's
// replay export (engine.ReplayPage), committing what it emits under a
// new run; a webhook event through engine.Webhook; an action through
// engine.Execute with the original correlation id, which the remote uses
// as its idempotency key.
//
// Every replay, succeeded or failed, signs a replay receipt
// (receipt.Replay) that names the item, its kind, the mode, the outcome,
// the original run and the replayed call's digests. A succeeded replay
// removes the item and records why (store.DLQRemoval, reason
// "replayed", with the receipt id); a failed live replay counts another
// attempt on the item. Delete removes an item unreplayed and records
// who did (reason "deleted").
//
// # Metrics
//
// sluice_dlq_depth{tenant,connection} is read from the store at scrape
// time, one series per configured connection (0 when its queue is
// empty) plus any connection that was deleted with items left. The label
// set is bounded by configuration: tenants and connections are created
// by administrators, not by traffic. sluice_dlq_replays_total{mode,status}
// counts replays.
package dlq
