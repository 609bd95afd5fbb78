package secrets

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/ golden files from the current format")

// fixedKey is a data key over the bytes 0x00..0x1f with id 0x01..0x08.
func fixedKey(t testing.TB) *dataKey {
	t.Helper()
	key := make([]byte, dekSize)
	for i := range key {
		key[i] = byte(i)
	}
	k, err := newDataKey(dekID{1, 2, 3, 4, 5, 6, 7, 8}, "local:42d9082f3b3ec1da", key)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var (
	goldenWhere = binding{"acme", "c1", "api_key"}
	goldenValue = []byte("sk_live_golden")
)

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) []byte {
	t.Helper()
	path := filepath.Join("testdata", name)
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
		t.Errorf("%s: format changed:\n got %q\nwant %q", name, got, want)
	}
	return want
}

// Sealed secrets and DEK records are persisted: what an older build
// wrote must still decode and open.
func TestGoldenSealedSecret(t *testing.T) {
	k := fixedKey(t)
	want := golden(t, "sealed-v1.bin", k.seal(bytes.Repeat([]byte{0xaa}, nonceSize), goldenWhere, goldenValue))
	blob, err := parseSealed(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.open(blob, goldenWhere)
	if err != nil || !bytes.Equal(got, goldenValue) {
		t.Errorf("open(golden) = %q, %v", got, err)
	}
}

func TestGoldenDEKRecord(t *testing.T) {
	raw, err := encodeDEKRecord(dekID{1, 2, 3, 4, 5, 6, 7, 8}, "arn:aws:kms:us-east-1:111122223333:key/k", []byte("wrapped-by-kms"))
	if err != nil {
		t.Fatal(err)
	}
	want := golden(t, "dek-record-v1.json", raw)
	rec, id, err := decodeDEKRecord(want)
	if err != nil || id != (dekID{1, 2, 3, 4, 5, 6, 7, 8}) || string(rec.Wrapped) != "wrapped-by-kms" {
		t.Errorf("decode(golden) = %+v, %v, %v", rec, id, err)
	}
}

// The binding's encoding is injective: moving bytes between tenant,
// connection and name never gives the same additional data.
func TestBindingAADIsUnambiguous(t *testing.T) {
	h := []byte{1, 2}
	seen := map[string]binding{}
	for _, b := range []binding{
		{"ab", "c", "d"}, {"a", "bc", "d"}, {"a", "b", "cd"}, {"abc", "", "d"}, {"a", "b", "c\x01d"},
	} {
		k := string(b.aad(h))
		if prev, dup := seen[k]; dup {
			t.Errorf("%v and %v have the same additional data", prev, b)
		}
		seen[k] = b
	}
}

// FuzzOpenSealed feeds arbitrary stored bytes to the sealed-secret
// decoder and opener: never a panic, and nothing but the genuine blob
// opens.
func FuzzOpenSealed(f *testing.F) {
	k := fixedKey(f)
	genuine := k.seal(bytes.Repeat([]byte{7}, nonceSize), goldenWhere, goldenValue)
	f.Add(genuine)
	f.Add(genuine[:minSealed])
	f.Add([]byte{})
	f.Add([]byte{sealedV1, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, b []byte) {
		blob, err := parseSealed(b)
		if err != nil {
			if len(b) >= minSealed && b[0] == sealedV1 {
				t.Fatalf("a well-sized v1 blob was refused: %v", err)
			}
			return
		}
		if !bytes.Equal(blob.header, b[:headerSize]) || len(blob.nonce) != nonceSize || len(blob.box) < tagSize {
			t.Fatalf("parse split %x wrongly", b)
		}
		v, err := k.open(blob, goldenWhere)
		if bytes.Equal(b, genuine) != (err == nil) {
			t.Fatalf("open(%x) = %q, %v", b, v, err)
		}
	})
}

func FuzzDecodeDEKRecord(f *testing.F) {
	good, _ := encodeDEKRecord(dekID{1}, "k", []byte("w"))
	f.Add(good)
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, id, err := decodeDEKRecord(b)
		if err != nil {
			return
		}
		again, err := encodeDEKRecord(id, rec.KMS, rec.Wrapped)
		if err != nil {
			t.Fatal(err)
		}
		if rec2, id2, err := decodeDEKRecord(again); err != nil || id2 != id || rec2.KMS != rec.KMS || !bytes.Equal(rec2.Wrapped, rec.Wrapped) {
			t.Fatalf("accepted record does not round-trip: %q", b)
		}
	})
}
