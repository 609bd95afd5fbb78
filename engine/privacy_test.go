package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/export"
	"github.com/sluicehq/sluice/keyring"
	"github.com/sluicehq/sluice/kms/local"
	"github.com/sluicehq/sluice/outbound"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/tape"
)

// Distinctive values planted in the sandbox: none of them may appear
// anywhere they are not allowed.
const (
	plantedPhone = "+1-555-0100-ZQXPHONE"     // outside the manifest's allow-list
	plantedTitle = "Chief ZQXTITLE Officer"   // allowed by the manifest, narrowed away
	plantedDept  = "ZQXDEPT Minimisation Lab" // allowed and kept
)

// scanBadger reads every file of the Badger folder as raw bytes (SSTs,
// value logs, manifests) and reports which needles occur.
func scanBadger(t *testing.T, dir string, needles ...string) []string {
	t.Helper()
	var found []string
	seen := map[string]bool{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, n := range needles {
			if !seen[n] && bytes.Contains(b, []byte(n)) {
				seen[n] = true
				found = append(found, n+" in "+filepath.Base(path))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// tapeText is a tape's JSON followed by every body it records, decoded
// (bodies are base64 in the JSON, which hides nothing from a reader).
func tapeText(t *testing.T, b []byte) []byte {
	t.Helper()
	tp, err := tape.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	out := bytes.Clone(b)
	for _, c := range tp.Calls {
		for _, ex := range c.Exchanges {
			out = append(append(out, ex.Request.Body...), ex.Response.Body...)
		}
	}
	return out
}

// A field outside the (narrowed) allow-list never reaches the store, the
// receipt, the tape or an export bundle; the receipt counts the drops.
func TestMinimisationScan(t *testing.T) {
	var ring *keyring.Ring
	r := newRig(t, rigOptions{signer: func(t testing.TB, db *store.DB) *receipt.Signer {
		kms, err := local.Open(filepath.Join(t.TempDir(), "kms.key"))
		if err != nil {
			t.Fatal(err)
		}
		if ring, err = keyring.New(keyring.Config{Store: db, KMS: kms}); err != nil {
			t.Fatal(err)
		}
		if _, err := ring.Init(context.Background(), ""); err != nil {
			t.Fatal(err)
		}
		return ring.Signer()
	}})
	sb, base := startSandbox(t, sandboxConfig(30))
	if _, err := sb.UpdateUser("u-0000001", map[string]any{"phone": plantedPhone, "title": plantedTitle, "department": plantedDept}); err != nil {
		t.Fatal(err)
	}
	mod := r.module("directory", nil)
	conn := r.conn("acme", mod, base)
	var kept []string
	for f := range mod.Manifest.ObjectTypes[0].Fields {
		if f != "title" {
			kept = append(kept, f)
		}
	}
	conn.Fields = map[string][]string{mod.Manifest.ObjectTypes[0].Name: kept}
	ctx := context.Background()
	res, err := r.eng.Sync(ctx, conn, engine.RunOptions{Full: true, Record: true})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := ring.KeySet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, err := receipt.Verify(res.Envelope, keys)
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Ingest()
	if err != nil {
		t.Fatal(err)
	}
	// Every user carries a phone (outside the allow-list) and a title
	// (narrowed away): at least two drops per user.
	if p.Counts.Dropped < 2*30 {
		t.Errorf("receipt counts.dropped = %d, want >= 60", p.Counts.Dropped)
	}
	if res.Run.Counts.Dropped != p.Counts.Dropped {
		t.Errorf("run dropped %d, receipt %d", res.Run.Counts.Dropped, p.Counts.Dropped)
	}

	// Receipt: the signed envelope.
	for _, bad := range []string{plantedPhone, plantedTitle, plantedDept} {
		if bytes.Contains(res.Envelope, []byte(bad)) {
			t.Errorf("%q reached the receipt", bad)
		}
	}
	// Tape: the whole of it, the remote's answers included. The answers
	// are minimised as the objects were, and the tape still replays
	// identically.
	tb, err := json.Marshal(res.Tape)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{plantedPhone, plantedTitle} {
		if bytes.Contains(tapeText(t, tb), []byte(bad)) {
			t.Errorf("%q reached the tape", bad)
		}
	}
	if !bytes.Contains(tapeText(t, tb), []byte(plantedDept)) {
		t.Errorf("the tape lacks the kept field %q: the scan proves nothing", plantedDept)
	}
	minimised := 0
	for _, c := range res.Tape.Calls {
		minimised += c.Minimised
	}
	if minimised < 2*30 || len(res.Tape.Fields) == 0 {
		t.Errorf("tape minimised %d values (want >= 60), fields %v", minimised, res.Tape.Fields)
	}
	tp, err := tape.Parse(tb)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.eng.Replay(ctx, mod, tp)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Identical() {
		t.Errorf("the minimised tape does not replay identically:\n%s", rep.Diff())
	}
	// A webhook event that fails becomes a dead-letter item: neither its
	// input nor its tape keeps the field.
	ev := engine.WebhookEvent{ID: "0194a000-0000-7000-8000-00000000e001", Headers: map[string]string{"content-type": "application/json"},
		Body: []byte(`{"id":"evt_scan","type":"user.exploded","occurred_at":"2026-01-01T00:00:00Z","data":{"id":"u-0000001","phone":"` + plantedPhone + `"}}`)}
	if _, err := r.eng.Webhook(ctx, conn, ev); err == nil {
		t.Fatal("an unsupported event was processed")
	}
	item, err := conn.Tenant.DLQItem(ctx, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	itemTape, err := conn.Tenant.DLQTape(ctx, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(item.Input, []byte(plantedPhone)) || bytes.Contains(tapeText(t, itemTape), []byte(plantedPhone)) {
		t.Errorf("the phone reached the dead-letter item's input or tape:\n%s\n%s", item.Input, itemTape)
	}
	if !bytes.Contains(item.Input, []byte(tape.Dropped)) {
		t.Errorf("the item's input names no dropped value: %s", item.Input)
	}
	// Export bundle of the admin role (sees every stored value).
	x, err := export.New(export.Config{Store: r.db, Classes: export.ManifestClasses(mod.Manifest)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := x.Export(ctx, export.Scope{Tenant: "acme", From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour), Role: export.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := export.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{plantedPhone, plantedTitle} {
		if bytes.Contains(doc, []byte(bad)) {
			t.Errorf("%q reached the export bundle", bad)
		}
	}
	if !bytes.Contains(doc, []byte(plantedDept)) {
		t.Errorf("the export bundle lacks the kept field %q: the scan proves nothing", plantedDept)
	}
	// Store: every value of every key, as Badger decodes it.
	all := badgerValues(t, r)
	for _, bad := range []string{plantedPhone, plantedTitle} {
		if bytes.Contains(all, []byte(bad)) {
			t.Errorf("%q reached a store value", bad)
		}
	}
	if !bytes.Contains(all, []byte(plantedDept)) {
		t.Errorf("the kept field %q is not stored: the scan proves nothing", plantedDept)
	}
}

// An action's answer carries the changed object whole (the sandbox
// answers a deactivation with the user, phone included): its tape is
// minimised like an ingest call's, spares the caller's parameters, and
// still replays identically.
func TestMinimisedActionTape(t *testing.T) {
	r := newRig(t, rigOptions{})
	sb, base := startSandbox(t, sandboxConfig(10))
	if _, err := sb.UpdateUser("u-0000002", map[string]any{"phone": plantedPhone}); err != nil {
		t.Fatal(err)
	}
	mod := r.module("directory", nil)
	conn := r.conn("acme", mod, base)
	ctx := context.Background()
	res, err := r.eng.Execute(ctx, conn, engine.ActionRequest{Action: "deactivate_user", Params: json.RawMessage(`{"user_id":"u-0000002"}`)})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := json.Marshal(res.Tape)
	if err != nil {
		t.Fatal(err)
	}
	text := tapeText(t, tb)
	if bytes.Contains(text, []byte(plantedPhone)) {
		t.Error("the phone reached the action's tape")
	}
	if !bytes.Contains(text, []byte(`"u-0000002"`)) || res.Tape.Calls[0].Minimised == 0 {
		t.Errorf("the tape lost the caller's user id or minimised nothing (%d)", res.Tape.Calls[0].Minimised)
	}
	tp, err := tape.Parse(tb)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.eng.Replay(ctx, mod, tp)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Identical() {
		t.Errorf("the minimised action tape does not replay identically:\n%s", rep.Diff())
	}
}

// With persistent indexing off, no object value reaches any file of the
// Badger folder, the stream delivers every object, and digests, lineage
// and the receipt remain.
func TestNoPersistentIndexing(t *testing.T) {
	hub := outbound.New(outbound.Config{})
	r := newRig(t, rigOptions{outbound: hub})
	const users = 40
	sb, base := startSandbox(t, sandboxConfig(users))
	var planted []string
	for i, id := range []string{"u-0000001", "u-0000002", "u-0000003"} {
		email := "noindex-" + string(rune('a'+i)) + "-zqx@example.test"
		if _, err := sb.UpdateUser(id, map[string]any{"email": email, "department": "ZQXNOINDEX dept " + id}); err != nil {
			t.Fatal(err)
		}
		planted = append(planted, email, "ZQXNOINDEX dept "+id)
	}
	mod := r.module("directory", nil)
	conn := r.conn("acme", mod, base)
	conn.NoIndex = true

	sub, err := hub.Subscribe("acme", conn.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Cancel()
	got := map[string]outbound.Record{}
	var stream bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case l := <-sub.C:
				stream.Write(append(l, '\n'))
				var rec outbound.Record
				if json.Unmarshal(l, &rec) == nil {
					got[rec.EntityID] = rec
				}
			case <-sub.Done:
				return
			}
		}
	}()
	ctx := context.Background()
	res, err := r.eng.Sync(ctx, conn, engine.RunOptions{Full: true, Record: true})
	if err != nil {
		t.Fatal(err)
	}
	sub.Cancel()
	<-done

	groups := users / 20
	if len(got) != users+groups {
		t.Fatalf("stream delivered %d distinct objects, want %d", len(got), users+groups)
	}
	for _, p := range planted {
		if !strings.Contains(stream.String(), p) {
			t.Errorf("the stream lacks %q", p)
		}
	}
	if n, err := conn.Tenant.CountObjects(ctx, conn.ID, mod.Manifest.ObjectTypes[0].Name); err != nil || n != 0 {
		t.Errorf("stored objects = %d, %v; want none", n, err)
	}
	// The receipt signs a payload root over every delivered object.
	v, err := receipt.Verify(res.Envelope, r.keys())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := v.Ingest()
	if p.Payload.Count != int64(users+groups) {
		t.Errorf("payload count %d, want %d", p.Payload.Count, users+groups)
	}
	digests := 0
	if err := conn.Tenant.PayloadManifest(ctx, res.Run.ID, func(entity, digest string) error {
		if got[entity].Digest != digest {
			t.Errorf("%s: stream digest %q, manifest %q", entity, got[entity].Digest, digest)
		}
		digests++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if digests != users+groups {
		t.Errorf("payload manifest has %d digests, want %d", digests, users+groups)
	}
	if _, err := conn.Tenant.Tape(ctx, res.Run.ID); err == nil {
		t.Error("a tape was stored for a no-persistent-indexing run: its exchanges hold object values")
	}
	// Raw bytes of every file while the writes are still in the
	// uncompressed write-ahead log, then every value as Badger decodes
	// it after a clean close (SSTs are Snappy-compressed).
	dir := filepath.Join(r.dir, "store")
	if found := scanBadger(t, dir, planted...); len(found) > 0 {
		t.Errorf("object values on disk: %v", found)
	}
	if found := scanBadger(t, dir, "u-0000001"); len(found) == 0 {
		t.Error("the raw scan found not even the lineage's source id: it proves nothing")
	}
	all := badgerValues(t, r)
	for _, p := range planted {
		if bytes.Contains(all, []byte(p)) {
			t.Errorf("object value %q in a Badger value", p)
		}
	}
	if found := scanBadger(t, dir, planted...); len(found) > 0 {
		t.Errorf("object values on disk after close: %v", found)
	}
}

// badgerValues closes the rig's store and returns every value of every
// version of every key, as Badger decodes them (SSTs are compressed, so
// a raw scan alone could miss a value).
func badgerValues(t *testing.T, r *rig) []byte {
	t.Helper()
	if err := r.db.Close(); err != nil {
		t.Fatal(err)
	}
	bdb, err := badger.Open(badger.DefaultOptions(filepath.Join(r.dir, "store")).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	var all bytes.Buffer
	err = bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{AllVersions: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			all.Write(v)
			all.WriteByte(0)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return all.Bytes()
}
