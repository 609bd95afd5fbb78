package local

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/kms"
)

var update = flag.Bool("update", false, "rewrite testdata/ golden files from the current format")

// fixedKMS is a KMS over the key 0x00..0x1f, for golden files and fuzzing.
func fixedKMS(t testing.TB) *KMS {
	t.Helper()
	key := make([]byte, keySize)
	for i := range key {
		key[i] = byte(i)
	}
	k, err := newKMS(key)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var (
	goldenPlain = []byte("a 32-byte tenant data key here!!")
	goldenAAD   = []byte("sluice/tenant-dek/v1|acme")
)

// The ciphertext format is persisted (it wraps every tenant's data key):
// a ciphertext made by an older build must still open.
func TestGoldenCiphertext(t *testing.T) {
	k := fixedKMS(t)
	if k.KeyID() != "local:42d9082f3b3ec1da" && !*update {
		// The fingerprint is part of the format too.
		t.Errorf("KeyID of the fixed key = %s", k.KeyID())
	}
	nonce := bytes.Repeat([]byte{0xaa}, nonceSize)
	got := k.seal(nonce, goldenPlain, goldenAAD)
	path := filepath.Join("testdata", "ciphertext-v1.bin")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("ciphertext format changed:\n got %x\nwant %x", got, want)
	}
	pt, err := k.Decrypt(context.Background(), want, goldenAAD)
	if err != nil || !bytes.Equal(pt, goldenPlain) {
		t.Errorf("Decrypt(golden) = %q, %v", pt, err)
	}
}

func TestParse(t *testing.T) {
	k := fixedKMS(t)
	valid := k.seal(make([]byte, nonceSize), []byte("x"), nil)
	for name, c := range map[string]struct {
		in   []byte
		want error
	}{
		"valid":       {valid, nil},
		"empty":       {nil, kms.ErrDecrypt},
		"one short":   {valid[:minCipher-1], kms.ErrDecrypt},
		"version 2":   {append([]byte{2}, valid[1:]...), kms.ErrDecrypt},
		"version 0":   {append([]byte{0}, valid[1:]...), kms.ErrDecrypt},
		"only header": {valid[:headerSize], kms.ErrDecrypt},
	} {
		_, err := parse(c.in)
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%s: parse = %v, want %v", name, err, c.want)
		}
	}
}

// FuzzLocalKMSDecrypt feeds arbitrary ciphertexts: Decrypt must never panic and
// must accept nothing but the genuine ciphertext (GCM forgery would be a
// broken format, e.g. the header left out of the tag).
func FuzzLocalKMSDecrypt(f *testing.F) {
	k := fixedKMS(f)
	genuine := k.seal(bytes.Repeat([]byte{1}, nonceSize), goldenPlain, goldenAAD)
	f.Add(genuine)
	f.Add(genuine[:minCipher])
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		pt, err := k.Decrypt(context.Background(), b, goldenAAD)
		if bytes.Equal(b, genuine) {
			if err != nil || !bytes.Equal(pt, goldenPlain) {
				t.Fatalf("genuine ciphertext: %q, %v", pt, err)
			}
			return
		}
		if err == nil {
			t.Fatalf("forged ciphertext %x accepted", b)
		}
		if !errors.Is(err, kms.ErrDecrypt) && !errors.Is(err, kms.ErrWrongKey) {
			t.Fatalf("error %v matches neither kms.ErrDecrypt nor kms.ErrWrongKey", err)
		}
	})
}
