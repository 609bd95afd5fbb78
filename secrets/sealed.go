package secrets

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// Sizes of the sealed-secret format (see the package doc).
const (
	dekSize     = 32
	dekIDSize   = 8
	nonceSize   = 12
	tagSize     = 16
	sealedV1    = 1
	headerSize  = 1 + dekIDSize
	minSealed   = headerSize + nonceSize + tagSize
	secretLabel = "sluice/secret/v1"
	dekLabel    = "sluice/tenant-dek/v1|"
	dekRecordV1 = 1
	dekKeyName  = "dek"
)

// dekID names a data key in the blobs sealed under it.
type dekID [dekIDSize]byte

func (id dekID) String() string { return hex.EncodeToString(id[:]) }

// dataKey is an unwrapped tenant data key, ready to seal and open.
type dataKey struct {
	id    dekID
	kmsID string // KeyID of the KMS that wraps it
	aead  cipher.AEAD
}

func newDataKey(id dekID, kmsID string, key []byte) (*dataKey, error) {
	if len(key) != dekSize {
		return nil, fmt.Errorf("unwrapped key is %d bytes, want %d", len(key), dekSize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &dataKey{id: id, kmsID: kmsID, aead: aead}, nil
}

// sealedBlob is a parsed sealed secret; slices alias the input.
type sealedBlob struct {
	header []byte
	dek    dekID
	nonce  []byte
	box    []byte // ciphertext and tag
}

var errMalformed = errors.New("malformed sealed secret")

// parseSealed splits a sealed secret into its fields without opening it.
// It is the decoder of stored bytes, so it never panics on any input.
func parseSealed(b []byte) (sealedBlob, error) {
	var s sealedBlob
	if len(b) < minSealed {
		return s, fmt.Errorf("%w: %d bytes, shorter than %d", errMalformed, len(b), minSealed)
	}
	if b[0] != sealedV1 {
		return s, fmt.Errorf("%w: unknown format version %d", errMalformed, b[0])
	}
	s.header = b[:headerSize]
	copy(s.dek[:], b[1:headerSize])
	s.nonce = b[headerSize : headerSize+nonceSize]
	s.box = b[headerSize+nonceSize:]
	return s, nil
}

// seal encrypts value under k with the given nonce, bound to where.
func (k *dataKey) seal(nonce []byte, where binding, value []byte) []byte {
	out := make([]byte, headerSize, minSealed+len(value))
	out[0] = sealedV1
	copy(out[1:], k.id[:])
	out = append(out, nonce...)
	return k.aead.Seal(out, nonce, value, where.aad(out[:headerSize]))
}

// open decrypts a parsed blob sealed under k for where.
func (k *dataKey) open(s sealedBlob, where binding) ([]byte, error) {
	if s.dek != k.id {
		return nil, fmt.Errorf("sealed under data key %s, the tenant's is %s", s.dek, k.id)
	}
	v, err := k.aead.Open(nil, s.nonce, s.box, where.aad(s.header))
	if err != nil {
		// GCM's error says nothing more; the usual cause is a blob moved
		// from another tenant, connection or name.
		return nil, errors.New("authentication failed: tampered, or sealed for another tenant, connection or name")
	}
	return v, nil
}

// binding is where a secret belongs; it is part of its additional data.
type binding struct{ tenant, connection, name string }

// aad is header || label || uvarint-length-prefixed tenant, connection,
// name.
func (b binding) aad(header []byte) []byte {
	out := make([]byte, 0, len(header)+len(secretLabel)+len(b.tenant)+len(b.connection)+len(b.name)+3*binary.MaxVarintLen64)
	out = append(out, header...)
	out = append(out, secretLabel...)
	for _, s := range [...]string{b.tenant, b.connection, b.name} {
		out = binary.AppendUvarint(out, uint64(len(s)))
		out = append(out, s...)
	}
	return out
}

// dekAAD is the additional data the KMS binds a tenant's wrapped DEK to.
func dekAAD(tenant string) []byte { return []byte(dekLabel + tenant) }

// dekRecord is the stored form of a wrapped DEK.
type dekRecord struct {
	V       int    `json:"v"`
	ID      string `json:"id"`
	KMS     string `json:"kms"`
	Wrapped []byte `json:"wrapped"`
}

func encodeDEKRecord(id dekID, kmsID string, wrapped []byte) ([]byte, error) {
	return json.Marshal(dekRecord{V: dekRecordV1, ID: id.String(), KMS: kmsID, Wrapped: wrapped})
}

// decodeDEKRecord parses and checks a stored DEK record.
func decodeDEKRecord(b []byte) (dekRecord, dekID, error) {
	var r dekRecord
	var id dekID
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, id, fmt.Errorf("decode record: %w", err)
	}
	switch {
	case r.V != dekRecordV1:
		return r, id, fmt.Errorf("unknown record version %d", r.V)
	case r.KMS == "":
		return r, id, errors.New("record names no KMS key")
	case len(r.Wrapped) == 0:
		return r, id, errors.New("record holds no wrapped key")
	}
	raw, err := hex.DecodeString(r.ID)
	if err != nil || len(raw) != dekIDSize {
		return r, id, fmt.Errorf("record id %q is not %d hex bytes", r.ID, dekIDSize)
	}
	copy(id[:], raw)
	return r, id, nil
}
