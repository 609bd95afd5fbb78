// Package actions runs the changes a connector makes in a remote system
// (its execute export) and the read-only checks that evidence a control
// (its verify export), under the tenant's policy.
//
// # Actions
//
// [Service.Submit] records a run with its policy preflight: the action
// must be declared, its scopes granted to the connection, and not denied
// by the tenant's [store.ActionPolicy]. A refused preflight is a run in
// state rejected, with a signed receipt, and a *PreflightError. An
// action the manifest marks destructive waits in pending_approval until
// principals other than the requester approve it (one, or two if the
// tenant requires it); self-approval is [ErrSelfApproval]. Any other
// action runs at once. Every finished run (executed, rejected, failed,
// expired) has a signed ActionRun receipt; every execute call keeps its
// tape under the run id, and a failed one also becomes a dead-letter
// item of kind execute carrying that tape.
//
// An Idempotency-Key maps to the run it created, per connection, for a
// day: a repeat returns the same run, a repeat with another request is
// [ErrIdempotencyMismatch].
//
// A grant submitted with a TTL schedules its inverse (the manifest's
// Action.Inverse, same parameters) at expiry; a pending approval expires
// after Config.ApprovalTimeout. Both sit in the store's due index, which
// [Service.RunDue] scans: the loop that [Service.Start] runs calls it
// periodically, tests call it directly with an injected clock. The
// inverse's receipt names the grant's receipt in inverse_of.
//
// A host that stops during an execute leaves its run in state running.
// [Service.Reconcile] (serve calls it once at start) fails such runs,
// with a signed receipt and [InterruptedMessage]: whether the remote
// applied the change is unknown, so nothing retries them on its own.
//
// A run belongs to the connection it was asked of. If the connection was
// deleted since (the id may now name a connection created again, on
// another account), an approval ends the run as rejected and the
// inverse of its grant fails when due, both with
// [ConnectionDeletedMessage] and a signed receipt; the old run's
// Idempotency-Key no longer answers.
//
// # Checks
//
// [Service.RunCheck] calls verify under a read-only network door and
// stores the result as control evidence ([store.Evidence]) with the
// digest of every evidence value and a signed Check receipt. A check the
// host refused a request (a write, an undeclared host) is an error, never
// a pass. Checks can be scheduled per connection ([Service.SetCheckSchedule]);
// due schedules run from the same RunDue.
//
// Checks live in this package rather than their own because they share
// everything but the export: the connection lookup, the signer, the
// due-scan loop and its clock, and the receipt conventions. One Service
// keeps one loop to start and stop.
package actions
