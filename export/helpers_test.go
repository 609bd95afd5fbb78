package export_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/export"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/keyring"
	"github.com/sluicehq/sluice/kms/local"
	"github.com/sluicehq/sluice/policy"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

// t0 is the fixed clock of the seeded world.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// dirManifest declares the field policy of the seeded objects.
var dirManifest = &protocol.Manifest{ID: "directory", Version: "1.0.0", ObjectTypes: []protocol.ObjectType{{
	Name: "user",
	Fields: map[string]protocol.FieldPolicy{
		"id": {PII: protocol.PIIIdentifier}, "email": {PII: protocol.PIIContact},
		"name": {PII: protocol.PIIIdentifier}, "status": {PII: protocol.PIINone},
	},
}}}

// seededUsers are the objects of the seeded run (source id, data). The
// "nickname" field is not in the manifest: unclassified.
var seededUsers = [][2]string{
	{"u-1", `{"email":"ada@example.test","id":"u-1","name":"Ada Lovelace","status":"active"}`},
	{"u-2", `{"email":"alan@example.test","id":"u-2","name":"Alan Turing","nickname":"prof","status":"suspended"}`},
	{"u-3", `{"email":"grace@example.test","id":"u-3","name":"Grace Hopper","status":"active"}`},
}

// world is a real store with a keyring, one committed sync run of
// seededUsers and its signed receipt, all deterministic.
type world struct {
	db   *store.DB
	ring *keyring.Ring
	x    *export.Exporter
}

func seed(t testing.TB) *world {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(store.Options{Dir: filepath.Join(dir, "store")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	wrap, err := local.Open(filepath.Join(dir, "kms.key"))
	if err != nil {
		t.Fatal(err)
	}
	var ticks time.Duration // the keyring's clock advances a minute per reading
	ring, err := keyring.New(keyring.Config{Store: db, KMS: wrap, Now: func() time.Time { ticks++; return t0.Add(-time.Hour + ticks*time.Minute) },
		Rand: bytes.NewReader(append(bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{8}, 32)...))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ring.Init(ctx, ""); err != nil {
		t.Fatal(err)
	}
	tn, err := db.Tenant("acme")
	if err != nil {
		t.Fatal(err)
	}
	saltKey := []byte("the tenant's 32-byte salt key!!!")
	if err := tn.PutKey(ctx, "payload-salt", saltKey); err != nil {
		t.Fatal(err)
	}
	commitRun(t, tn, saltKey, ring, "01957a00-0000-7000-8000-000000000001", t0, seededUsers)
	return &world{db: db, ring: ring, x: newExporter(t, db, nil)}
}

// newExporter exports from db with rules (nil: DefaultRules), the field
// policy of dirManifest and the seeded world's fixed clock.
func newExporter(t testing.TB, db *store.DB, rules export.Rules) *export.Exporter {
	t.Helper()
	x, err := export.New(export.Config{Store: db, Rules: rules, Classes: export.ManifestClasses(dirManifest),
		Now: func() time.Time { return t0.Add(24 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// seedMany is seed plus a second sync run, ten minutes later, of n
// generated users (manyUsers), with acmeRedaction saved as the tenant's
// redaction policy through pols.
func seedMany(t testing.TB, n int, pols *policy.Service) *world {
	t.Helper()
	ctx := context.Background()
	w := seed(t)
	tn, err := w.db.Tenant("acme")
	if err != nil {
		t.Fatal(err)
	}
	salt, err := tn.Key(ctx, "payload-salt")
	if err != nil {
		t.Fatal(err)
	}
	commitRun(t, tn, salt, w.ring, "01957a00-0000-7000-8000-0000000000b1", t0.Add(10*time.Minute), manyUsers(n))
	if _, err := pols.Put(ctx, tn, policy.KindRedaction, acmeRedaction, "k-admin"); err != nil {
		t.Fatal(err)
	}
	return w
}

// manyUsers returns n directory users (source id, data), each with the
// four fields of dirManifest.
func manyUsers(n int) [][2]string {
	out := make([][2]string, n)
	for i := range out {
		id := fmt.Sprintf("b-%05d", i)
		out[i] = [2]string{id, fmt.Sprintf(`{"email":"user%d@example.test","id":%q,"name":"User %d","status":"active"}`, i, id, i)}
	}
	return out
}

// commitRun commits users as one page of a sync run, as the engine does,
// and signs and stores its ingest receipt.
func commitRun(t testing.TB, tn *store.Tenant, saltKey []byte, ring *keyring.Ring, runID string, at time.Time, users [][2]string) {
	t.Helper()
	ctx := context.Background()
	dg, err := receipt.NewDigester(saltKey)
	if err != nil {
		t.Fatal(err)
	}
	run := store.Run{ID: runID, Connection: "dir", Connector: "directory", Version: "1.0.0", ModuleDigest: "sha256:" + hex.EncodeToString(make([]byte, 32)),
		Kind: "sync", State: store.RunRunning, Full: true, StartedAt: at}
	page := store.Page{Connection: "dir", Run: run}
	for _, u := range users {
		o := store.Object{EntityID: store.EntityID("acme", "directory", "user", u[0]), Connector: "directory", Type: "user",
			SourceID: u[0], Data: []byte(u[1]), ObservedAt: at}
		d, err := dg.ObjectDigest(o.EntityID, o.Data)
		if err != nil {
			t.Fatal(err)
		}
		o.Digest = hex.EncodeToString(d[:])
		page.Objects = append(page.Objects, o)
		page.Lineage = append(page.Lineage, store.Lineage{EntityID: o.EntityID, SourceObjectID: u[0], ObjectType: "user", Confidence: 1, ObservedAt: at})
	}
	if _, err := tn.CommitPage(ctx, page); err != nil {
		t.Fatal(err)
	}
	pb := receipt.NewPayloadBuilder()
	err = tn.PayloadManifest(ctx, runID, func(entity, digest string) error {
		d, _ := receipt.ParseDigest(digest)
		return pb.Add(entity, d)
	})
	if err != nil {
		t.Fatal(err)
	}
	finished := at.Add(time.Minute)
	env, err := ring.Signer().SignIngest(ctx, receipt.Ingest{
		ReceiptID: "rcpt-" + runID, RunID: runID, Kind: "sync", TenantID: "acme", ConnectorID: "directory", ConnectorVersion: "1.0.0",
		ModuleDigest: run.ModuleDigest, Connection: "dir", Source: receipt.Source{System: "directory", AccountID: "acct-1", BaseURL: "https://dir.example.test/api"},
		Scopes: []string{"users:read"}, StartedAt: receipt.FormatTime(at), FinishedAt: receipt.FormatTime(finished),
		Counts:  receipt.Counts{Read: int64(len(users)), Created: int64(len(users))},
		Policy:  receipt.PolicyRef{ID: "policy:interim/scopes-manifest", Rule: "ingest allowed", Digest: "sha256:" + hex.EncodeToString(make([]byte, 32))},
		Payload: pb.Ref(), Status: receipt.StatusSucceeded,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tn.PutReceipt(ctx, store.Receipt{ID: "rcpt-" + runID, RunID: runID, Kind: "sync", Envelope: env, CreatedAt: finished}); err != nil {
		t.Fatal(err)
	}
	run.State, run.FinishedAt, run.ReceiptID = store.RunSucceeded, finished, "rcpt-"+runID
	run.Counts = store.Counts{Read: int64(len(users)), Created: int64(len(users))}
	if err := tn.PutRun(ctx, run); err != nil {
		t.Fatal(err)
	}
}

func (w *world) export(t testing.TB, role string) []byte {
	t.Helper()
	b, err := w.x.Export(context.Background(), export.Scope{Tenant: "acme", From: t0.Add(-time.Hour), To: t0.Add(time.Hour), Role: role})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := export.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func fieldValues(users [][2]string, skip ...string) []string {
	var out []string
	for _, u := range users {
		for _, v := range []string{"ada@example.test", "Ada Lovelace", "alan@example.test", "Alan Turing", "prof", "grace@example.test", "Grace Hopper"} {
			if bytes.Contains([]byte(u[1]), []byte(`"`+v+`"`)) && !slices.Contains(skip, v) {
				out = append(out, v)
			}
		}
	}
	return out
}
