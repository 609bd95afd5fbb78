package secrets_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/secrets"
)

// Seal and Unseal keep a value in another record under the tenant's data
// key: it opens only for the same tenant, connection and name, and never
// shows up among the connection's credentials.
func TestSealUnseal(t *testing.T) {
	ctx := context.Background()
	db := memDB(t)
	v := newVault(t, secrets.Config{Store: db, KMS: openLocal(t, filepath.Join(t.TempDir(), "kms.key"))})
	acme, globex := tenant(t, db, "acme"), tenant(t, db, "globex")
	value := []byte("signing-key-bytes-0123456789abcdef")
	blob, err := v.Seal(ctx, acme, "dir", "whsec:1", value)
	mustNil(t, err)
	if bytes.Contains(blob, value) {
		t.Fatal("sealed blob holds the value in the clear")
	}
	got, err := v.Unseal(ctx, acme, "dir", "whsec:1", blob)
	mustNil(t, err)
	if !bytes.Equal(got, value) {
		t.Fatalf("unsealed %q", got)
	}
	_, _ = v.Seal(ctx, globex, "dir", "whsec:1", value) // give globex a data key
	tampered := bytes.Clone(blob)
	tampered[len(tampered)-1] ^= 1
	for name, try := range map[string]func() error{
		"other name":       func() error { _, err := v.Unseal(ctx, acme, "dir", "whsec:2", blob); return err },
		"other connection": func() error { _, err := v.Unseal(ctx, acme, "crm", "whsec:1", blob); return err },
		"other tenant":     func() error { _, err := v.Unseal(ctx, globex, "dir", "whsec:1", blob); return err },
		"tampered":         func() error { _, err := v.Unseal(ctx, acme, "dir", "whsec:1", tampered); return err },
		"junk":             func() error { _, err := v.Unseal(ctx, acme, "dir", "whsec:1", []byte("x")); return err },
	} {
		if err := try(); !errors.Is(err, secrets.ErrSealed) {
			t.Errorf("%s: err = %v, want ErrSealed", name, err)
		}
	}
	names, err := v.Names(ctx, acme, "dir")
	mustNil(t, err)
	if len(names) != 0 {
		t.Fatalf("sealed values became connection secrets: %v", names)
	}
	if _, err := v.Seal(ctx, acme, "dir", "whsec:1", nil); !errors.Is(err, secrets.ErrInvalid) {
		t.Fatalf("empty value: %v", err)
	}
}
