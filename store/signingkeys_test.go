package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func signingKey(id string, at time.Time) SigningKey {
	return SigningKey{ID: id, Algorithm: "ed25519", Public: bytes.Repeat([]byte{id[len(id)-1]}, 32),
		Wrapped: []byte("wrapped-" + id), KMSKeyID: "local:0011223344556677", Source: "generated", CreatedAt: at}
}

// TestSigningKeysRotate: the first key needs an empty keyring, a rotation
// names the key it replaces, retires it, and a stale rotation conflicts.
func TestSigningKeysRotate(t *testing.T) {
	ctx := context.Background()
	p := openDB(t).Platform()
	if _, err := p.ActiveSigningKey(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty keyring: %v", err)
	}
	mustNil(t, p.ActivateSigningKey(ctx, signingKey("ed25519:a1", t0), ""))
	if err := p.ActivateSigningKey(ctx, signingKey("ed25519:a2", t0), ""); !errors.Is(err, ErrConflict) {
		t.Fatalf("second first key: %v, want ErrConflict", err)
	}
	mustNil(t, p.ActivateSigningKey(ctx, signingKey("ed25519:a2", t0.Add(time.Hour)), "ed25519:a1"))
	if err := p.ActivateSigningKey(ctx, signingKey("ed25519:a3", t0.Add(2*time.Hour)), "ed25519:a1"); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale rotation: %v, want ErrConflict", err)
	}
	if err := p.ActivateSigningKey(ctx, signingKey("ed25519:a1", t0.Add(2*time.Hour)), "ed25519:a2"); !errors.Is(err, ErrExists) {
		t.Fatalf("reused id: %v, want ErrExists", err)
	}
	if err := p.ActivateSigningKey(ctx, SigningKey{ID: "ed25519:a4", Algorithm: "rsa"}, "ed25519:a2"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad key: %v, want ErrInvalid", err)
	}
	active, err := p.ActiveSigningKey(ctx)
	mustNil(t, err)
	if active.ID != "ed25519:a2" || active.State != SigningKeyActive {
		t.Fatalf("active = %+v", active)
	}
	keys, err := p.SigningKeys(ctx)
	mustNil(t, err)
	if len(keys) != 2 || keys[0].ID != "ed25519:a1" || keys[0].State != SigningKeyRetired || !keys[0].RetiredAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("keys = %+v", keys)
	}
}

// TestGoldenSigningKeys pins p/sk/ records in testdata/golden_signingkeys
// (run with -update after an intended format change).
func TestGoldenSigningKeys(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	p := db.Platform()
	mustNil(t, p.ActivateSigningKey(ctx, signingKey("ed25519:a1", t0), ""))
	k2 := signingKey("ed25519:a2", t0.Add(time.Hour))
	k2.Source = ""
	mustNil(t, p.ActivateSigningKey(ctx, k2, "ed25519:a1"))
	var lines []string
	for _, kv := range dump(t, db) {
		if !strings.HasPrefix(kv, "p/sk/") {
			t.Fatalf("unexpected key %s", kv)
		}
		lines = append(lines, kv)
	}
	got := strings.Join(lines, "\n") + "\n"
	path := filepath.Join("testdata", "golden_signingkeys", "sk.txt")
	if *update {
		mustNil(t, os.MkdirAll(filepath.Dir(path), 0o755))
		mustNil(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./store -run TestGoldenSigningKeys -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the stored format:\n--- got\n%s--- want\n%s", path, got, want)
	}
}
