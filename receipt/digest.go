package receipt

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
)

// ObjectDigestV1 names the object digest format of this package
// (PayloadRef.ObjectDigest).
const ObjectDigestV1 = "sluice-salted-fields-v1"

// MinSaltKeySize is the shortest salt key accepted. The salt key is what
// keeps a redacted field's digest from being matched against guessed
// values, so it must be a real secret.
const MinSaltKeySize = 16

// SaltSize is the length of a field salt.
const SaltSize = 16

// Digester computes object and field digests under one salt key, reusing
// its buffers: computing the digest of an already canonical object does
// not allocate. A Digester is not safe for concurrent use; give each
// goroutine its own. Make one with NewDigester; the zero value refuses to
// digest.
type Digester struct {
	mac     hash.Hash // HMAC-SHA256 under the salt key
	sha     hash.Hash
	members []member
	digests [][32]byte
	id      []byte // entity id of the object being digested
	name    []byte // scratch for an unescaped field name
	sum     []byte // scratch for HMAC output
	obj     []byte // scratch for the JCS object hashed last
}

// NewDigester returns a Digester for saltKey, which must be at least
// MinSaltKeySize bytes.
func NewDigester(saltKey []byte) (*Digester, error) {
	if len(saltKey) < MinSaltKeySize {
		return nil, fmt.Errorf("%w: salt key is %d bytes, want at least %d", ErrInvalidKey, len(saltKey), MinSaltKeySize)
	}
	return &Digester{
		mac: hmac.New(sha256.New, saltKey),
		sha: sha256.New(),
		sum: make([]byte, 0, sha256.Size),
	}, nil
}

// ObjectDigest returns the digest of the top-level fields of the JSON
// object data, as the package documentation defines it. data should be
// RFC 8785 canonical JSON (as the store keeps it): that is checked in one
// pass and the field values are hashed as they are. Any other JSON object
// is canonicalised first, which costs a parse and a copy but gives the
// same digest.
func ObjectDigest(saltKey []byte, entityID string, data []byte) (digest [32]byte, err error) {
	d, err := NewDigester(saltKey)
	if err != nil {
		return digest, err
	}
	return d.ObjectDigest(entityID, data)
}

// FieldDigests returns the digest of each top-level field of data, keyed
// by field name; see ObjectDigest.
func FieldDigests(saltKey []byte, entityID string, data []byte) (map[string][32]byte, error) {
	d, err := NewDigester(saltKey)
	if err != nil {
		return nil, err
	}
	return d.FieldDigests(entityID, data)
}

// ObjectDigest is the package function ObjectDigest under d's salt key.
func (d *Digester) ObjectDigest(entityID string, data []byte) ([32]byte, error) {
	if err := d.digestFields(entityID, data); err != nil {
		return [32]byte{}, err
	}
	d.obj = appendObjectPrefix(d.obj[:0], entityID)
	for i, m := range d.members {
		d.obj = appendField(d.obj, i, m.key, &d.digests[i])
	}
	d.obj = append(d.obj, '}', '}')
	return sha256.Sum256(d.obj), nil
}

// FieldDigests is the package function FieldDigests under d's salt key.
func (d *Digester) FieldDigests(entityID string, data []byte) (map[string][32]byte, error) {
	if err := d.digestFields(entityID, data); err != nil {
		return nil, err
	}
	out := make(map[string][32]byte, len(d.members))
	for i, m := range d.members {
		out[string(d.fieldName(m))] = d.digests[i]
	}
	return out, nil
}

// FieldSalt returns the salt of one field of one object. An export that
// discloses a field hands out its salt and value so that the reader can
// recompute FieldDigest.
func (d *Digester) FieldSalt(entityID, field string) ([SaltSize]byte, error) {
	var salt [SaltSize]byte
	if d.mac == nil {
		return salt, errNoSaltKey()
	}
	if err := checkEntityID(entityID); err != nil {
		return salt, err
	}
	if !utf8.ValidString(field) {
		return salt, malformed("field name", "not valid UTF-8")
	}
	d.id = append(d.id[:0], entityID...)
	d.name = append(d.name[:0], field...)
	copy(salt[:], d.salt(d.name))
	return salt, nil
}

// FieldDigest returns the digest of a field from its salt, name and JSON
// value (canonicalised first if it is not canonical).
func FieldDigest(salt [SaltSize]byte, field string, value []byte) ([32]byte, error) {
	if !utf8.ValidString(field) {
		return [32]byte{}, malformed("field name", "not valid UTF-8")
	}
	canon, err := canonicalise(value)
	if err != nil {
		return [32]byte{}, &MalformedError{What: "field value", Err: err}
	}
	h := sha256.New()
	var out [32]byte
	writeFieldDigest(h, salt[:], []byte(field), canon)
	h.Sum(out[:0])
	return out, nil
}

// ObjectDigestFromFieldDigests rebuilds an object digest from its field
// digests alone, as a reader of a redacted export does. For any object,
// it equals ObjectDigest of that object under the salt key that produced
// the field digests.
func ObjectDigestFromFieldDigests(entityID string, fields map[string][32]byte) ([32]byte, error) {
	if err := checkEntityID(entityID); err != nil {
		return [32]byte{}, err
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		if !utf8.ValidString(name) {
			return [32]byte{}, malformed("field name", "%q is not valid UTF-8", name)
		}
		names = append(names, name)
	}
	slices.SortFunc(names, compareUTF16)
	obj := appendObjectPrefix(nil, entityID)
	var key []byte
	for i, name := range names {
		key = appendString(key[:0], name)
		digest := fields[name]
		obj = appendField(obj, i, key[1:len(key)-1], &digest)
	}
	obj = append(obj, '}', '}')
	return sha256.Sum256(obj), nil
}

// digestFields fills d.members and d.digests for the object data.
func (d *Digester) digestFields(entityID string, data []byte) error {
	if d.mac == nil {
		return errNoSaltKey()
	}
	if err := checkEntityID(entityID); err != nil {
		return err
	}
	var ok bool
	if d.members, ok = canonicalMembers(data, d.members[:0]); !ok {
		canon, err := jcs.Transform(data)
		if err != nil {
			return &MalformedError{What: "object", Err: err}
		}
		if d.members, ok = canonicalMembers(canon, d.members[:0]); !ok {
			return malformed("object", "not a JSON object")
		}
	}
	d.id = append(d.id[:0], entityID...)
	d.digests = slices.Grow(d.digests[:0], len(d.members))[:len(d.members)]
	for i, m := range d.members {
		name := d.fieldName(m)
		salt := d.salt(name)
		d.sha.Reset()
		writeFieldDigest(d.sha, salt, name, m.value)
		d.sha.Sum(d.digests[i][:0])
	}
	return nil
}

// fieldName returns the unescaped name of m, valid until the next call.
func (d *Digester) fieldName(m member) []byte {
	if !m.esc {
		return m.key
	}
	d.name = unescape(d.name[:0], m.key)
	return d.name
}

// salt returns HMAC(saltKey, d.id || 0x00 || name)[:SaltSize], valid until
// the next call.
func (d *Digester) salt(name []byte) []byte {
	d.mac.Reset()
	d.mac.Write(d.id)
	d.mac.Write(zero[:])
	d.mac.Write(name)
	d.sum = d.mac.Sum(d.sum[:0])
	return d.sum[:SaltSize]
}

func errNoSaltKey() error {
	return fmt.Errorf("%w: Digester has no salt key; use NewDigester", ErrInvalidKey)
}

// zero is the one-byte separator of the hash inputs; never written to.
var zero = [1]byte{0}

func writeFieldDigest(h hash.Hash, salt, name, value []byte) {
	h.Write(salt)
	h.Write(zero[:])
	h.Write(name)
	h.Write(zero[:])
	h.Write(value)
}

func appendObjectPrefix(dst []byte, entityID string) []byte {
	dst = append(dst, `{"entity_id":`...)
	dst = appendString(dst, entityID)
	return append(dst, `,"fields":{`...)
}

// appendField appends the i-th member "key":"hex(digest)"; key is already
// in canonical string form.
func appendField(dst []byte, i int, key []byte, digest *[32]byte) []byte {
	if i > 0 {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':', '"')
	dst = hex.AppendEncode(dst, digest[:])
	return append(dst, '"')
}

// checkEntityID refuses ids that would make the hash inputs ambiguous
// (NUL) or that JCS cannot write (invalid UTF-8).
func checkEntityID(id string) error {
	switch {
	case id == "":
		return malformed("entity id", "empty")
	case !utf8.ValidString(id):
		return malformed("entity id", "not valid UTF-8")
	case strings.IndexByte(id, 0) >= 0:
		return malformed("entity id", "holds a NUL byte")
	}
	return nil
}
