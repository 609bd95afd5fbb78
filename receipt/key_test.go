package receipt_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/receipt"
)

func TestKeyID(t *testing.T) {
	k := seededKey(t, "signer")
	sum := sha256.Sum256(k.Public())
	want := "ed25519:" + hex.EncodeToString(sum[:])[:16]
	if k.ID != want || receipt.KeyID(k.Public()) != want {
		t.Fatalf("key id = %q, want %q", k.ID, want)
	}
	if !regexp.MustCompile(`^ed25519:[0-9a-f]{16}$`).MatchString(k.ID) {
		t.Fatalf("key id %q has the wrong shape", k.ID)
	}
}

func TestGenerateKey(t *testing.T) {
	// A fixed reader gives a fixed key: the seed is read from it.
	seed := bytes.Repeat([]byte{7}, ed25519.SeedSize)
	k1, err := receipt.GenerateKey(bytes.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	k2, err := receipt.KeyFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Private.Equal(k2.Private) || k1.ID != k2.ID {
		t.Fatal("GenerateKey and KeyFromSeed disagree on one seed")
	}
	k3, err := receipt.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	if k3.ID == k1.ID {
		t.Fatal("GenerateKey(nil) returned the fixed key")
	}
	if _, err := receipt.GenerateKey(bytes.NewReader(seed[:5])); err == nil {
		t.Fatal("GenerateKey with a short reader succeeded")
	}
	if _, err := receipt.KeyFromSeed(seed[:31]); !errors.Is(err, receipt.ErrInvalidKey) {
		t.Fatalf("KeyFromSeed(31 bytes) = %v, want ErrInvalidKey", err)
	}
}

func TestMarshalParseKey(t *testing.T) {
	k := seededKey(t, "signer")
	data, err := receipt.MarshalKey(k)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("-----BEGIN PRIVATE KEY-----\n")) {
		t.Fatalf("MarshalKey = %q, want a PEM private key", data)
	}
	got, err := receipt.ParseKey(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != k.ID || !got.Private.Equal(k.Private) {
		t.Fatal("ParseKey(MarshalKey(k)) != k")
	}
	if _, err := receipt.MarshalKey(receipt.Key{}); !errors.Is(err, receipt.ErrInvalidKey) {
		t.Fatalf("MarshalKey(zero) = %v, want ErrInvalidKey", err)
	}
}

func TestParseKeyRejects(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"not PEM", []byte("hello")},
		{"wrong block type", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}})},
		{"garbage DER", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}})},
		{"ECDSA key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := receipt.ParseKey(tt.data); !errors.Is(err, receipt.ErrInvalidKey) {
				t.Fatalf("ParseKey = %v, want ErrInvalidKey", err)
			}
		})
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys", "nested")
	path := filepath.Join(dir, "receipt.pem")

	k1, err := receipt.LoadOrCreateKey(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]fs.FileMode{dir: 0o700, path: 0o600} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s mode = %04o, want %04o", p, got, want)
		}
	}
	k2, err := receipt.LoadOrCreateKey(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if k1.ID != k2.ID || !k1.Private.Equal(k2.Private) {
		t.Fatal("second LoadOrCreateKey returned another key")
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("key directory holds %v (%v), want only the key file", entries, err)
	}
}

func TestLoadOrCreateKeyConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "receipt.pem")
	const n = 8
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var k receipt.Key
			k, errs[i] = receipt.LoadOrCreateKey(path, nil)
			ids[i] = k.ID
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("caller %d got %q, %v; caller 0 got %q", i, ids[i], errs[i], ids[0])
		}
	}
}

func TestLoadOrCreateKeyRefuses(t *testing.T) {
	k := seededKey(t, "signer")
	data, err := receipt.MarshalKey(k)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		mode fs.FileMode
		want error
	}{
		{"world readable", data, 0o644, receipt.ErrInsecureKeyFile},
		{"group readable", data, 0o640, receipt.ErrInsecureKeyFile},
		{"corrupt", []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600, receipt.ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "receipt.pem")
			if err := os.WriteFile(path, tt.data, tt.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil { // umask
				t.Fatal(err)
			}
			if _, err := receipt.LoadOrCreateKey(path, nil); !errors.Is(err, tt.want) {
				t.Fatalf("LoadOrCreateKey = %v, want %v", err, tt.want)
			}
			// The refused file is left as it was.
			if got, _ := os.ReadFile(path); !bytes.Equal(got, tt.data) {
				t.Fatal("key file was changed")
			}
		})
	}
}

func TestKeySet(t *testing.T) {
	a, b := seededKey(t, "a"), seededKey(t, "b")
	s, err := receipt.NewKeySet(a.Public())
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.Add(b.Public())
	if err != nil || id != b.ID {
		t.Fatalf("Add = %q, %v; want %q", id, err, b.ID)
	}
	if _, err := s.Add(a.Public()); err != nil {
		t.Fatalf("adding a key twice: %v", err)
	}
	for _, k := range []receipt.Key{a, b} {
		if pub, ok := s.Lookup(k.ID); !ok || !pub.Equal(k.Public()) {
			t.Errorf("Lookup(%s) = %x, %v", k.ID, pub, ok)
		}
	}
	if _, ok := s.Lookup("ed25519:0000000000000000"); ok {
		t.Error("Lookup of an unknown id succeeded")
	}
	if _, err := s.Add(ed25519.PublicKey{1, 2, 3}); !errors.Is(err, receipt.ErrInvalidKey) {
		t.Errorf("Add(short key) = %v, want ErrInvalidKey", err)
	}
	var nilSet receipt.KeySet
	if _, err := nilSet.Add(a.Public()); !errors.Is(err, receipt.ErrInvalidKey) {
		t.Errorf("Add on nil KeySet = %v, want ErrInvalidKey", err)
	}
	if _, ok := nilSet.Lookup(a.ID); ok {
		t.Error("Lookup on nil KeySet succeeded")
	}
	// The set keeps its own copy of each key.
	pub := b.Public()
	s2, _ := receipt.NewKeySet(pub)
	pub[0] ^= 1
	if got, _ := s2.Lookup(b.ID); !got.Equal(b.Public()) {
		t.Error("KeySet aliases the caller's key")
	}
}
