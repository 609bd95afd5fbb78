package keyring_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice/keyring"
	"github.com/sluicehq/sluice/kms/local"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

func openRing(t *testing.T, dir string) (*keyring.Ring, *store.DB) {
	t.Helper()
	db, err := store.Open(store.Options{Dir: filepath.Join(dir, "store")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	k, err := local.Open(filepath.Join(dir, "keys", "kms-local.key"))
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r, err := keyring.New(keyring.Config{Store: db, KMS: k, Now: func() time.Time { clock = clock.Add(time.Minute); return clock }})
	if err != nil {
		t.Fatal(err)
	}
	return r, db
}

func ingest(id, root string) receipt.Ingest {
	return receipt.Ingest{ReceiptID: "rcpt-" + id, RunID: id, Kind: receipt.KindSync, TenantID: "acme", ConnectorID: "directory",
		StartedAt: "2026-01-01T00:00:00Z", FinishedAt: "2026-01-01T00:00:01Z", Status: receipt.StatusSucceeded,
		Payload: receipt.PayloadRef{Root: root}}
}

// TestImportRotateVerify: a legacy key file is imported wrapped and
// deleted; receipts signed before and after a rotation both verify with
// the keyring's keys, and the one Signer followed the rotation.
func TestImportRotateVerify(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	legacy := filepath.Join(dir, "keys", "signing.pem")
	old, err := receipt.LoadOrCreateKey(legacy, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, db := openRing(t, dir)
	id, err := r.Init(ctx, legacy)
	if err != nil {
		t.Fatal(err)
	}
	if id != old.ID {
		t.Fatalf("imported key id %s, want the legacy key %s", id, old.ID)
	}
	if _, err := os.Stat(legacy); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("legacy key file still there after import: %v", err)
	}
	recs, err := db.Platform().SigningKeys(ctx)
	if err != nil || len(recs) != 1 || recs[0].Source != "imported" {
		t.Fatalf("keyring after import: %+v %v", recs, err)
	}
	if bytes.Contains(recs[0].Wrapped, old.Private.Seed()) {
		t.Fatal("the stored record holds the private key in the clear")
	}

	signer := r.Signer()
	root := "00000000000000000000000000000000000000000000000000000000000000ff"
	before, err := signer.SignIngest(ctx, ingest("r1", root))
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := r.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after, err := signer.SignIngest(ctx, ingest("r2", root))
	if err != nil {
		t.Fatal(err)
	}
	if signer.KeyID() != rotated.ID {
		t.Fatalf("signer key %s after rotation, want %s", signer.KeyID(), rotated.ID)
	}
	ks, err := r.KeySet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, env := range map[string][]byte{"before": before, "after": after} {
		v, err := receipt.Verify(env, ks)
		if err != nil {
			t.Fatalf("receipt signed %s rotation: %v", name, err)
		}
		want := old.ID
		if name == "after" {
			want = rotated.ID
		}
		if v.KeyID != want {
			t.Errorf("receipt signed %s rotation by %s, want %s", name, v.KeyID, want)
		}
	}
	keys, err := r.Keys(ctx)
	if err != nil || len(keys) != 2 || keys[0].State != store.SigningKeyRetired || keys[1].State != store.SigningKeyActive || keys[0].RetiredAt.IsZero() {
		t.Fatalf("keys = %+v %v", keys, err)
	}

	// A second Init finds the active key and changes nothing.
	if id, err := r.Init(ctx, legacy); err != nil || id != rotated.ID {
		t.Fatalf("Init on a full keyring: %s %v", id, err)
	}
}

// TestWrongKMSCannotSign: a wrapped key does not unwrap under another
// KMS key, and signing says so instead of signing with anything else.
func TestWrongKMSCannotSign(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r, db := openRing(t, dir)
	if _, err := r.Init(ctx, ""); err != nil {
		t.Fatal(err)
	}
	other, err := local.Open(filepath.Join(t.TempDir(), "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := keyring.New(keyring.Config{Store: db, KMS: other})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r2.Signer().SignIngest(ctx, ingest("r1", "00000000000000000000000000000000000000000000000000000000000000ff"))
	if !errors.Is(err, keyring.ErrUnwrap) {
		t.Fatalf("sign with the wrong KMS: %v, want ErrUnwrap", err)
	}
	if _, err := r2.Rotate(ctx); !errors.Is(err, keyring.ErrOtherKMS) {
		t.Fatalf("rotate under another KMS: %v", err)
	}
	if _, err := keyring.New(keyring.Config{Store: db}); !errors.Is(err, keyring.ErrConfig) {
		t.Fatalf("no KMS: %v", err)
	}
	empty, _ := openRing(t, t.TempDir())
	if _, err := empty.Rotate(ctx); !errors.Is(err, keyring.ErrNoKey) {
		t.Fatalf("rotate an empty keyring: %v", err)
	}
}
