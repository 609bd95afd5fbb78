package receipt_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/sluicehq/sluice/receipt"
)

func leafDigest(i int) [32]byte {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], uint64(i))
	return sha256.Sum256(buf[:])
}

func leafID(i int) string { return fmt.Sprintf("entity-%06d", i) }

func buildTree(t *testing.T, n int) *receipt.PayloadBuilder {
	t.Helper()
	b := receipt.NewPayloadBuilder()
	for i := range n {
		if err := b.Add(leafID(i), leafDigest(i)); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func TestRootThreeLeavesByHand(t *testing.T) {
	d := [3][32]byte{leafDigest(0), leafDigest(1), leafDigest(2)}
	leaf := func(x [32]byte) []byte { s := sha256.Sum256(append([]byte{0}, x[:]...)); return s[:] }
	node := func(l, r []byte) []byte { s := sha256.Sum256(append(append([]byte{1}, l...), r...)); return s[:] }
	// RFC 6962: MTH(d0,d1,d2) = H(1 || MTH(d0,d1) || MTH(d2)).
	want := node(node(leaf(d[0]), leaf(d[1])), leaf(d[2]))

	root, count := buildTree(t, 3).Root()
	if count != 3 || hex.EncodeToString(root[:]) != hex.EncodeToString(want) {
		t.Fatalf("Root = %x, %d; want %x, 3", root, count, want)
	}
}

// TestRootMatchesCompactRange compares roots with the merkle library's
// compact range for every size up to 70, and checks every inclusion proof
// with the library's verifier as well as VerifyInclusion.
func TestRootMatchesCompactRange(t *testing.T) {
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	for n := 0; n <= 70; n++ {
		b := buildTree(t, n)
		root, count := b.Root()
		if count != int64(n) {
			t.Fatalf("size %d: count %d", n, count)
		}
		cr := rf.NewEmptyRange(0)
		for i := range n {
			d := leafDigest(i)
			if err := cr.Append(rfc6962.DefaultHasher.HashLeaf(d[:]), nil); err != nil {
				t.Fatal(err)
			}
		}
		want := rfc6962.DefaultHasher.EmptyRoot()
		if n > 0 {
			var err error
			if want, err = cr.GetRootHash(nil); err != nil {
				t.Fatal(err)
			}
		}
		if string(root[:]) != string(want) {
			t.Fatalf("size %d: root %x, compact range %x", n, root, want)
		}
		for i := range n {
			path, err := b.InclusionProof(int64(i))
			if err != nil {
				t.Fatalf("size %d leaf %d: %v", n, i, err)
			}
			d := leafDigest(i)
			if err := receipt.VerifyInclusion(d, int64(i), int64(n), path, root); err != nil {
				t.Fatalf("size %d leaf %d: %v", n, i, err)
			}
			raw := make([][]byte, len(path))
			for j := range path {
				raw[j] = path[j][:]
			}
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), uint64(n), rfc6962.DefaultHasher.HashLeaf(d[:]), raw, want); err != nil {
				t.Fatalf("size %d leaf %d: library verifier: %v", n, i, err)
			}
		}
	}
}

func TestVerifyInclusionRejects(t *testing.T) {
	const n, i = 13, 6
	b := buildTree(t, n)
	root, _ := b.Root()
	path, err := b.InclusionProof(i)
	if err != nil {
		t.Fatal(err)
	}
	leaf := leafDigest(i)
	flipped := func(p [][32]byte, j int) [][32]byte {
		out := append([][32]byte(nil), p...)
		out[j][0] ^= 1
		return out
	}
	otherRoot := root
	otherRoot[31] ^= 1
	tests := []struct {
		name  string
		leaf  [32]byte
		index int64
		size  int64
		path  [][32]byte
		root  [32]byte
	}{
		{"wrong leaf", leafDigest(7), i, n, path, root},
		{"wrong index", leaf, i + 1, n, path, root},
		// An audit path does not always bind the tree size (leaf 6 has the
		// same path in trees of 12, 13 and 14 leaves); the signed count
		// does. A size that changes the path's shape must fail.
		{"wrong size", leaf, i, 8, path, root},
		{"first proof node flipped", leaf, i, n, flipped(path, 0), root},
		{"last proof node flipped", leaf, i, n, flipped(path, len(path)-1), root},
		{"proof truncated", leaf, i, n, path[:len(path)-1], root},
		{"proof extended", leaf, i, n, append(append([][32]byte(nil), path...), root), root},
		{"wrong root", leaf, i, n, path, otherRoot},
		{"index beyond size", leaf, n, n, path, root},
		{"negative index", leaf, -1, n, path, root},
		{"negative size", leaf, i, -1, path, root},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := receipt.VerifyInclusion(tt.leaf, tt.index, tt.size, tt.path, tt.root); !errors.Is(err, receipt.ErrBadProof) {
				t.Fatalf("VerifyInclusion = %v, want ErrBadProof", err)
			}
		})
	}
}

func TestPayloadBuilderOrder(t *testing.T) {
	b := receipt.NewPayloadBuilder()
	if err := b.Add("b", leafDigest(0)); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"b", "a", ""} {
		err := b.Add(id, leafDigest(1))
		var oe *receipt.OrderError
		if !errors.As(err, &oe) || !errors.Is(err, receipt.ErrOutOfOrder) || oe.Previous != "b" || oe.EntityID != id {
			t.Fatalf("Add(%q) after \"b\" = %v, want an OrderError", id, err)
		}
	}
	if b.Len() != 1 {
		t.Fatalf("Len = %d after refused Adds, want 1", b.Len())
	}
}

func TestPayloadBuilderRootTracksAdds(t *testing.T) {
	b := buildTree(t, 5)
	r5, _ := b.Root()
	if err := b.Add(leafID(5), leafDigest(5)); err != nil {
		t.Fatal(err)
	}
	r6, c6 := b.Root()
	want, _ := buildTree(t, 6).Root()
	if r6 == r5 || r6 != want || c6 != 6 {
		t.Fatalf("root after Add = %x (%d), want %x", r6, c6, want)
	}
}

func TestPayloadBuilderIndexAndRef(t *testing.T) {
	b := buildTree(t, 10)
	for i := range 10 {
		if got, ok := b.Index(leafID(i)); !ok || got != int64(i) {
			t.Errorf("Index(%s) = %d, %v", leafID(i), got, ok)
		}
	}
	if _, ok := b.Index("nope"); ok {
		t.Error("Index of an absent id succeeded")
	}
	if _, err := b.InclusionProof(10); err == nil {
		t.Error("InclusionProof past the end succeeded")
	}
	if _, err := b.InclusionProof(-1); err == nil {
		t.Error("InclusionProof(-1) succeeded")
	}

	ref := b.Ref()
	root, _ := b.Root()
	parsed, err := receipt.ParseRoot(ref.Root)
	if err != nil || parsed != root {
		t.Fatalf("ParseRoot(Ref().Root) = %x, %v; want %x", parsed, err, root)
	}
	if ref.Count != 10 || ref.Algorithm != receipt.AlgorithmRFC6962 || ref.ObjectDigest != receipt.ObjectDigestV1 {
		t.Errorf("Ref = %+v", ref)
	}
	for _, bad := range []string{"", "00", ref.Root[:63] + "g"} {
		if _, err := receipt.ParseRoot(bad); !errors.Is(err, receipt.ErrMalformed) {
			t.Errorf("ParseRoot(%q) = %v, want ErrMalformed", bad, err)
		}
	}
}

func TestEmptyRoot(t *testing.T) {
	root, count := receipt.NewPayloadBuilder().Root()
	if want := sha256.Sum256(nil); root != want || count != 0 {
		t.Fatalf("empty Root = %x, %d; want %x, 0", root, count, want)
	}
}

func TestZeroValues(t *testing.T) {
	var b receipt.PayloadBuilder
	if root, n := b.Root(); root != sha256.Sum256(nil) || n != 0 {
		t.Fatalf("zero PayloadBuilder Root = %x, %d", root, n)
	}
	if err := b.Add("a", leafDigest(0)); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Root(); got != func() [32]byte { r, _ := buildTree(t, 1).Root(); return r }() {
		t.Fatal("zero PayloadBuilder computes another root")
	}
	var d receipt.Digester
	if _, err := d.ObjectDigest("e", []byte(`{}`)); !errors.Is(err, receipt.ErrInvalidKey) {
		t.Fatalf("zero Digester ObjectDigest = %v, want ErrInvalidKey", err)
	}
	if _, err := d.FieldSalt("e", "f"); !errors.Is(err, receipt.ErrInvalidKey) {
		t.Fatalf("zero Digester FieldSalt = %v, want ErrInvalidKey", err)
	}
	var s receipt.Signer
	if _, err := s.Sign(context.Background(), "t", nil, nil); !errors.Is(err, receipt.ErrInvalidKey) {
		t.Fatalf("zero Signer Sign = %v, want ErrInvalidKey", err)
	}
}
