package local_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/kms"
	"github.com/sluicehq/sluice/kms/kmstest"
	"github.com/sluicehq/sluice/kms/local"
)

func open(t *testing.T, path string) *local.KMS {
	t.Helper()
	k, err := local.Open(path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	return k
}

func TestConformance(t *testing.T) {
	dir := t.TempDir()
	kmstest.Conformance(t, open(t, filepath.Join(dir, "a", "kms.key")), open(t, filepath.Join(dir, "b", "kms.key")))
}

func TestOpenCreatesOwnerOnlyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "keys")
	path := filepath.Join(dir, "kms.key")
	k := open(t, path)

	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %04o, want %04o", p, got, want)
		}
	}
	if fi, _ := os.Stat(path); fi.Size() != 32 {
		t.Errorf("key file has %d bytes, want 32", fi.Size())
	}
	if !strings.HasPrefix(k.KeyID(), "local:") || len(k.KeyID()) != len("local:")+16 {
		t.Errorf("KeyID = %q, want local: and 16 hex digits", k.KeyID())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries, want only the key file (temporary file left behind?)", len(entries))
	}

	// Reopening reads the same key: old ciphertexts still open.
	ctx := context.Background()
	ct, err := k.Encrypt(ctx, []byte("dek"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	again := open(t, path)
	if again.KeyID() != k.KeyID() {
		t.Errorf("reopened KeyID %q, want %q", again.KeyID(), k.KeyID())
	}
	if pt, err := again.Decrypt(ctx, ct, []byte("aad")); err != nil || string(pt) != "dek" {
		t.Errorf("reopened Decrypt = %q, %v", pt, err)
	}
}

func TestOpenRefuses(t *testing.T) {
	for name, c := range map[string]struct {
		setup func(t *testing.T, dir string) string // returns the path to open
		want  error
	}{
		"group-readable file": {func(t *testing.T, dir string) string {
			return writeKey(t, dir, 32, 0o640)
		}, local.ErrInsecure},
		"other-readable file": {func(t *testing.T, dir string) string {
			return writeKey(t, dir, 32, 0o604)
		}, local.ErrInsecure},
		"group-writable file": {func(t *testing.T, dir string) string {
			return writeKey(t, dir, 32, 0o620)
		}, local.ErrInsecure},
		"short file": {func(t *testing.T, dir string) string {
			return writeKey(t, dir, 31, 0o600)
		}, local.ErrKeyFile},
		"long file": {func(t *testing.T, dir string) string {
			return writeKey(t, dir, 33, 0o600)
		}, local.ErrKeyFile},
		"symlink": {func(t *testing.T, dir string) string {
			target := writeKey(t, dir, 32, 0o600)
			link := filepath.Join(dir, "link.key")
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			return link
		}, local.ErrKeyFile},
		"folder as key": {func(t *testing.T, dir string) string {
			return dir
		}, local.ErrKeyFile},
		"world-writable folder": {func(t *testing.T, dir string) string {
			open := filepath.Join(dir, "open")
			if err := os.Mkdir(open, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(open, 0o777); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(open, "kms.key")
		}, local.ErrInsecure},
		"no path": {func(*testing.T, string) string { return "" }, kms.ErrInvalid},
	} {
		t.Run(name, func(t *testing.T) {
			path := c.setup(t, t.TempDir())
			k, err := local.Open(path)
			if !errors.Is(err, c.want) {
				t.Fatalf("Open = %v, %v; want %v", k, err, c.want)
			}
			var kfe *local.KeyFileError
			if !errors.As(err, &kfe) {
				t.Errorf("error %T is not a *KeyFileError", err)
			}
		})
	}
}

func writeKey(t *testing.T, dir string, size int, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, "kms.key")
	if err := os.WriteFile(p, make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // WriteFile's mode passes through the umask
		t.Fatal(err)
	}
	return p
}

// Concurrent first opens agree on one key: the loser of the race reads
// the winner's file instead of replacing it.
func TestOpenConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kms.key")
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			k, err := local.Open(path)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = k.KeyID()
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent opens made different keys: %v", ids)
		}
	}
}

func TestCanceledContext(t *testing.T) {
	k := open(t, filepath.Join(t.TempDir(), "kms.key"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := k.Encrypt(ctx, []byte("x"), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Encrypt = %v, want context.Canceled", err)
	}
	if _, err := k.Decrypt(ctx, []byte("x"), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Decrypt = %v, want context.Canceled", err)
	}
}

// A ciphertext of another key file names that key: rotation tooling can
// tell "use the old key" from "tampered".
func TestWrongKeyIsNamed(t *testing.T) {
	dir := t.TempDir()
	a, b := open(t, filepath.Join(dir, "a.key")), open(t, filepath.Join(dir, "b.key"))
	ctx := context.Background()
	ct, err := a.Encrypt(ctx, []byte("dek"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Decrypt(ctx, ct, nil)
	if !errors.Is(err, kms.ErrWrongKey) || !strings.Contains(err.Error(), a.KeyID()) || !strings.Contains(err.Error(), b.KeyID()) {
		t.Errorf("Decrypt with the other key = %v, want kms.ErrWrongKey naming both keys", err)
	}
}
