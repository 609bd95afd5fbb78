package receipt

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// AlgorithmRFC6962 names the payload tree (PayloadRef.Algorithm): RFC 6962
// Merkle tree hashing with SHA-256, leaves being the 32-byte object digests.
const AlgorithmRFC6962 = "rfc6962-sha256"

// PayloadBuilder collects the object digests of a run and computes the
// Merkle root and inclusion proofs of the payload manifest. Leaves are
// added in strictly ascending entity id order (byte order), which makes
// the root independent of the order objects were emitted in and lets
// Index find a leaf by binary search. The zero value is an empty builder.
// A PayloadBuilder is not safe for concurrent use.
type PayloadBuilder struct {
	ids []string
	// levels[0] holds the leaf hashes; levels[l][i] is the root of the
	// perfect subtree over leaves [i<<l, (i+1)<<l). Levels above 0 are
	// computed by Root and dropped by Add.
	levels [][][32]byte
	root   [32]byte
	fresh  bool // levels above 0 and root match levels[0]
}

// NewPayloadBuilder returns an empty builder.
func NewPayloadBuilder() *PayloadBuilder {
	return &PayloadBuilder{}
}

// Add appends the digest of the object with the given entity id. It
// returns an *OrderError (ErrOutOfOrder) unless entityID sorts after the
// previous one.
func (b *PayloadBuilder) Add(entityID string, digest [32]byte) error {
	if n := len(b.ids); n > 0 && entityID <= b.ids[n-1] {
		return &OrderError{Index: int64(n), Previous: b.ids[n-1], EntityID: entityID}
	}
	b.ids = append(b.ids, entityID)
	if b.levels == nil {
		b.levels = make([][][32]byte, 1)
	}
	b.levels[0] = append(b.levels[0], leafHash(&digest))
	b.fresh = false
	return nil
}

// Len returns the number of leaves.
func (b *PayloadBuilder) Len() int64 { return int64(len(b.ids)) }

// Index returns the leaf index of entityID.
func (b *PayloadBuilder) Index(entityID string) (int64, bool) {
	i := sort.SearchStrings(b.ids, entityID)
	if i < len(b.ids) && b.ids[i] == entityID {
		return int64(i), true
	}
	return 0, false
}

// Root returns the RFC 6962 root over the leaves added so far and their
// count. The root of no leaves is SHA-256 of the empty string.
func (b *PayloadBuilder) Root() (root [32]byte, count int64) {
	b.build()
	return b.root, int64(len(b.ids))
}

// Ref returns the PayloadRef of the leaves added so far, for an Ingest
// predicate.
func (b *PayloadBuilder) Ref() PayloadRef {
	root, count := b.Root()
	return PayloadRef{
		Root:         hex.EncodeToString(root[:]),
		Count:        count,
		Algorithm:    AlgorithmRFC6962,
		ObjectDigest: ObjectDigestV1,
	}
}

// InclusionProof returns the RFC 6962 audit path of leaf index in the
// current tree, for VerifyInclusion.
func (b *PayloadBuilder) InclusionProof(index int64) ([][32]byte, error) {
	size := int64(len(b.ids))
	if index < 0 || index >= size {
		return nil, fmt.Errorf("receipt: leaf index %d out of range [0, %d)", index, size)
	}
	b.build()
	nodes, err := proof.Inclusion(uint64(index), uint64(size))
	if err != nil {
		return nil, fmt.Errorf("receipt: inclusion proof: %w", err)
	}
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		// Every node of a proof roots a perfect subtree, so it is stored.
		hashes[i] = b.levels[id.Level][id.Index][:]
	}
	hashes, err = nodes.Rehash(hashes, hashChildren)
	if err != nil {
		return nil, fmt.Errorf("receipt: inclusion proof: %w", err)
	}
	out := make([][32]byte, len(hashes))
	for i, h := range hashes {
		copy(out[i][:], h)
	}
	return out, nil
}

// VerifyInclusion checks that the object digest leaf is leaf index of the
// tree of the given size and root, using the audit path from
// InclusionProof. It returns an error matching ErrBadProof if not. Take
// size and root from a verified receipt (PayloadRef): an RFC 6962 audit
// path does not always bind the tree size by itself.
func VerifyInclusion(leaf [32]byte, index, size int64, auditPath [][32]byte, root [32]byte) error {
	if index < 0 || size < 0 {
		return fmt.Errorf("%w: negative index %d or size %d", ErrBadProof, index, size)
	}
	path := make([][]byte, len(auditPath))
	for i := range auditPath {
		path[i] = auditPath[i][:]
	}
	lh := leafHash(&leaf)
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(index), uint64(size), lh[:], path, root[:]); err != nil {
		return fmt.Errorf("%w: %v", ErrBadProof, err)
	}
	return nil
}

// ParseRoot decodes a PayloadRef root (64 hex digits).
func ParseRoot(s string) ([32]byte, error) {
	var root [32]byte
	if len(s) != 2*len(root) {
		return root, malformed("payload root", "%d characters, want %d hex digits", len(s), 2*len(root))
	}
	if _, err := hex.Decode(root[:], []byte(s)); err != nil {
		return root, &MalformedError{What: "payload root", Err: err}
	}
	return root, nil
}

// build computes the levels above the leaves and the root, the latter by
// folding the peaks (the last node of each odd-length level) from the
// right, as RFC 6962 splits a tree at the largest power of two.
func (b *PayloadBuilder) build() {
	if b.fresh {
		return
	}
	if b.levels == nil {
		b.levels = make([][][32]byte, 1)
	}
	b.levels = b.levels[:1]
	for l := 0; len(b.levels[l]) > 1; l++ {
		below := b.levels[l]
		up := make([][32]byte, len(below)/2)
		for i := range up {
			up[i] = nodeHash(&below[2*i], &below[2*i+1])
		}
		b.levels = append(b.levels, up)
	}
	var root *[32]byte
	for l := range b.levels {
		level := b.levels[l]
		if len(level)%2 == 0 {
			continue
		}
		peak := &level[len(level)-1]
		if root == nil {
			root = peak
		} else {
			h := nodeHash(peak, root)
			root = &h
		}
	}
	if root == nil {
		b.root = sha256.Sum256(nil)
	} else {
		b.root = *root
	}
	b.fresh = true
}

func leafHash(digest *[32]byte) [32]byte {
	var buf [1 + 32]byte
	buf[0] = rfc6962.RFC6962LeafHashPrefix
	copy(buf[1:], digest[:])
	return sha256.Sum256(buf[:])
}

func nodeHash(left, right *[32]byte) [32]byte {
	var buf [1 + 64]byte
	buf[0] = rfc6962.RFC6962NodeHashPrefix
	copy(buf[1:], left[:])
	copy(buf[33:], right[:])
	return sha256.Sum256(buf[:])
}

func hashChildren(left, right []byte) []byte {
	var l, r [32]byte
	copy(l[:], left)
	copy(r[:], right)
	h := nodeHash(&l, &r)
	return h[:]
}
