// Package store is Sluice's tenant-partitioned store on Badger: objects,
// edges, lineage, stream checkpoints, runs, payload manifests, receipts,
// tapes and sealed secrets.
//
// # Tenancy
//
// Every key starts with t/{tenant}/. Only a [*Tenant], made by
// [DB.Tenant] for one validated tenant id, reads or writes, and no
// exported function takes a raw key, so one tenant's handle cannot name
// another tenant's data. Tenant and connection ids match
// ^[a-z0-9][a-z0-9_-]{0,62}$. Other key segments are "names": 1-128
// characters of [A-Za-z0-9._:-] starting with a letter or digit (object
// and edge types, streams, kinds, run, receipt, secret and key names), or
// entity ids (the canonical UUIDs [EntityID] returns). No segment can
// hold '/', so every key parses back unambiguously. Invalid input is a
// [*ValidationError] (errors.Is(err, ErrInvalid)), never a panic.
//
// # Key layout
//
// Below, every key is relative to t/{tenant}/; "empty" values are zero
// bytes; "JSON" values are the record type's JSON (compact, no HTML
// escaping, times in UTC, zero times omitted); {nanos} is Unix
// nanoseconds as a 19-digit zero-padded decimal so byte order is time
// order.
//
//	o/{entity}                        Object, JSON. RunID in the record is the run that last wrote it.
//	oi/{conn}/{type}/{entity}         type index: {"digest":"<digest>","run":"<run>"}, written by hand in
//	                                  exactly this layout; run is the last run that saw the object (the
//	                                  mark of mark & sweep). CommitPage compares the digest without
//	                                  decoding, and rewrites only this entry for an unchanged object.
//	om/{entity}/{conn}                membership: the entity belongs to conn; value the object type as a
//	                                  JSON string. Written when a connection first sees an entity.
//	e/{conn}/{from}/{type}/{to}       Edge, JSON. from and to are entity ids, so a re-write overwrites.
//	l/{entity}/{nanos}/{run}/{etype}/{src}
//	                                  Lineage, JSON; {nanos} is ObservedAt, {etype} the EdgeType ("-" if
//	                                  empty), {src} the first 8 bytes of SHA-256(ObjectType 0x00
//	                                  SourceObjectID) in hex. One event per entity, instant, run, edge
//	                                  type and source object: a re-write overwrites itself.
//	ck/{conn}/{kind}/{stream}         Checkpoint, JSON.
//	r/{run}                           Run, JSON.
//	rt/{nanos}/{run}                  run time index (StartedAt), empty; Runs of the tenant.
//	rn/{conn}/{nanos}/{run}           run time index per connection, empty; Runs of a connection.
//	ra/{conn}/{kind}/{run}            active runs (State "running"), empty; ActiveRun.
//	pm/{run}/{entity}                 payload manifest: the digest as a JSON string, for every object a
//	                                  run committed (created, updated or skipped).
//	del/{run}/{entity}                staged deletion, empty; applied by FinishSnapshot, dropped by
//	                                  DiscardStaged.
//	sw/{run}/{entity}                 sweep journal, empty; lives only while FinishSnapshot runs.
//	rc/{receipt}                      Receipt, JSON (Envelope base64).
//	tp/{run}                          tape, raw bytes (package tape's format).
//	wh/{conn}                         WebhookEndpoint, JSON: hook id and sealed signing secrets
//	                                  (store/webhooks.go).
//	wi/{event}                        webhook inbox: an accepted, unprocessed delivery, JSON; {event} a UUIDv7.
//	wd/{conn}/{sha256(webhook-id)}    delivery de-dup key with a Badger TTL; value the inbox event id.
//	we/{conn}/{sha256(event id)}      processed-event de-dup key with a Badger TTL; value the inbox event id.
//	s/{conn}/{name}                   sealed secret, raw bytes (sealed by the caller).
//	k/{name}                          tenant key material, raw bytes.
//	cn/{conn}                         Connection, JSON (store/connections.go).
//	u/{day}/{connector}               usage (metering) of a day, JSON (store/usage.go).
//	dq/{item}                         DLQItem, JSON (store/dlq.go); item ids are UUIDv7, so id order is
//	                                  arrival order.
//	dqc/{conn}/{item}                 DLQ index per connection, empty; DLQItems and DLQDepth read keys only.
//	dqt/{item}                        the DLQ item's tape, raw bytes (package tape's format); written and
//	                                  deleted in the item's transaction.
//	dqr/{item}                        DLQRemoval, JSON: who removed the item, why (deleted|replayed), and
//	                                  the replay receipt; written in the transaction that removes it.
//	ar/{run}                          ActionRun, JSON (store/actions.go); approvals live in the record.
//	arc/{conn}/{run}                  action runs of a connection, empty; run ids are UUIDv7 (creation order).
//	aik/{conn}/{sha256(key)}          Idempotency-Key → IdempotencyEntry JSON (run, request digest), Badger
//	                                  TTL IdempotencyTTL.
//	ad/{nanos}/{run}                  action due index: value "inverse" (revoke an expired grant) or
//	                                  "expire" (a pending approval times out), as a JSON string.
//	ap/policy                         ActionPolicy, JSON: required approvers, denied actions.
//	pol/{kind}                        TenantPolicy, JSON: the tenant's CEL expression for a policy kind
//	                                  (ingest, action, redaction) replacing its default (store/policies.go).
//	dec/{decision}                    PolicyDecision, JSON: one recorded policy evaluation; ids are content
//	                                  addressed, the first write wins.
//	ev/{conn}/{control}/{nanos}/{id}  Evidence of a verify check, JSON (store/evidence.go); {nanos} StartedAt.
//	cks/{conn}/{check}                CheckSchedule, JSON.
//	ckd/{nanos}/{conn}/{check}        check schedule due index ({nanos} NextAt), empty.
//
// Platform records belong to no tenant and live under p/, reachable only
// through [DB.Platform]; each file documents its records:
//
//	p/reg/c/{id}, p/reg/v/{id}/{version}, p/reg/b/{digest}
//	                                  connector registry (store/registry.go)
//	p/ak/{id}, p/akb                  API keys by hash, bootstrap lock (store/apikeys.go)
//	p/conn/acct/{connector}/{hash}    remote account → tenant binding (store/connections.go)
//	p/conn/oauth/{hash}               pending OAuth2 flows, single use, with a TTL
//	p/hook/{hook}                     webhook hook id → tenant and connection (store/webhooks.go)
//	p/sk/k/{key id}, p/sk/active      receipt signing keyring: public keys, KMS-wrapped private keys,
//	                                  the active key id (store/signingkeys.go)
//	p/cert/c/{id}/{version}, p/cert/r/{id}/{version}
//	                                  marketplace certification of a version and its conformance
//	                                  report (store/certification.go)
//
// testdata/golden/{kind}.txt pins the exact keys and values of every
// kind; run the tests with -update after an intended format change.
//
// There is no tenant registry: [DB.Tenants] finds tenants by seeking from
// one tenant's key range to the next.
//
// # Pages
//
// [Tenant.CommitPage] commits a page of objects with its edges, lineage,
// payload-manifest entries, staged deletions, stream checkpoint and run
// record in one Badger transaction, so a crash never loses or duplicates
// a page. Deletions a connector reports are only staged: they apply when
// a full snapshot finishes ([Tenant.FinishSnapshot]), which also sweeps
// the objects the snapshot did not see.
package store
