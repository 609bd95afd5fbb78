package receipt

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"
)

// DisclosedField is one top-level field of a [Disclosure]. Digest is
// always present; a revealed field also carries its Salt and Value, from
// which a reader recomputes Digest ([FieldDigest]). A redacted field
// carries Digest alone: without the salt, which is secret per entity and
// field, the value cannot be confirmed by guessing.
type DisclosedField struct {
	Digest string          `json:"digest"`          // hex SHA-256 field digest
	Salt   string          `json:"salt,omitempty"`  // hex, SaltSize bytes; revealed fields only
	Value  json.RawMessage `json:"value,omitempty"` // canonical JSON; revealed fields only
}

// Revealed reports whether f discloses its value.
func (f DisclosedField) Revealed() bool { return f.Salt != "" || f.Value != nil }

// Disclosure is an object in selective-disclosure form: its entity id and,
// per top-level field, either the value with its salt or only the field
// digest. Its object digest ([Disclosure.ObjectDigest]) equals the
// digest the payload manifest holds, whichever fields are redacted, so
// the inclusion proof and the receipt's signature still verify.
type Disclosure struct {
	EntityID string                    `json:"entity_id"`
	Fields   map[string]DisclosedField `json:"fields"`
}

// Disclose returns the disclosure of an object with every field revealed.
// data is the object's JSON (canonical JSON as the store keeps it, or
// any JSON object, canonicalised first).
func (d *Digester) Disclose(entityID string, data []byte) (Disclosure, error) {
	if err := d.digestFields(entityID, data); err != nil {
		return Disclosure{}, err
	}
	out := Disclosure{EntityID: entityID, Fields: make(map[string]DisclosedField, len(d.members))}
	for i, m := range d.members {
		name := d.fieldName(m)
		salt := d.salt(name)
		out.Fields[string(name)] = DisclosedField{
			Digest: hex.EncodeToString(d.digests[i][:]),
			Salt:   hex.EncodeToString(salt),
			Value:  slices.Clone(json.RawMessage(m.value)),
		}
	}
	return out, nil
}

// Disclose is [Digester.Disclose] under saltKey.
func Disclose(saltKey []byte, entityID string, data []byte) (Disclosure, error) {
	d, err := NewDigester(saltKey)
	if err != nil {
		return Disclosure{}, err
	}
	return d.Disclose(entityID, data)
}

// Redact replaces field by its digest alone. Redacting a redacted field
// does nothing; a field the object does not have is a *DisclosureError.
func (d *Disclosure) Redact(field string) error {
	f, ok := d.Fields[field]
	if !ok {
		return &DisclosureError{EntityID: d.EntityID, Field: field, Reason: "no such field"}
	}
	d.Fields[field] = DisclosedField{Digest: f.Digest}
	return nil
}

// Redacted lists the redacted fields, sorted.
func (d Disclosure) Redacted() []string {
	var out []string
	for name, f := range d.Fields {
		if !f.Revealed() {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// FieldDigests checks every revealed field against its digest and
// returns the digest of each field. The first field that fails (in
// sorted order) is named in a *DisclosureError.
func (d Disclosure) FieldDigests() (map[string][32]byte, error) {
	if err := checkEntityID(d.EntityID); err != nil {
		return nil, &DisclosureError{EntityID: clipID(d.EntityID), Reason: "bad entity id", Err: err}
	}
	names := make([]string, 0, len(d.Fields))
	for name := range d.Fields {
		names = append(names, name)
	}
	slices.SortFunc(names, compareUTF16)
	out := make(map[string][32]byte, len(names))
	for _, name := range names {
		digest, err := d.fieldDigest(name, d.Fields[name])
		if err != nil {
			return nil, err
		}
		out[name] = digest
	}
	return out, nil
}

func (d Disclosure) fieldDigest(name string, f DisclosedField) ([32]byte, error) {
	fail := func(reason string, err error) ([32]byte, error) {
		return [32]byte{}, &DisclosureError{EntityID: d.EntityID, Field: name, Reason: reason, Err: err}
	}
	if !utf8.ValidString(name) {
		return fail("field name is not valid UTF-8", nil)
	}
	digest, err := decodeHex32(f.Digest)
	if err != nil {
		return fail("bad digest", err)
	}
	if !f.Revealed() {
		return digest, nil
	}
	if f.Value == nil {
		return fail("revealed field has a salt but no value", nil)
	}
	raw, err := hex.DecodeString(f.Salt)
	if err != nil || len(raw) != SaltSize {
		return fail(fmt.Sprintf("salt is not %d bytes of hex", SaltSize), err)
	}
	got, err := FieldDigest([SaltSize]byte(raw), name, f.Value)
	if err != nil {
		return fail("bad value", err)
	}
	if got != digest {
		return fail("revealed value does not match its digest", nil)
	}
	return digest, nil
}

// ObjectDigest checks the disclosure (FieldDigests) and returns the
// object digest the payload manifest holds for it.
func (d Disclosure) ObjectDigest() ([32]byte, error) {
	fields, err := d.FieldDigests()
	if err != nil {
		return [32]byte{}, err
	}
	return ObjectDigestFromFieldDigests(d.EntityID, fields)
}

// VerifyDisclosure checks d against a signed payload root: every revealed
// value against its digest, the object digest from the field digests,
// and the RFC 6962 inclusion proof of that digest as leaf index of a tree
// of size leaves. Take root and size from a verified receipt's
// PayloadRef.
func VerifyDisclosure(d Disclosure, index, size int64, proof [][32]byte, root [32]byte) error {
	digest, err := d.ObjectDigest()
	if err != nil {
		return err
	}
	if err := VerifyInclusion(digest, index, size, proof, root); err != nil {
		return &DisclosureError{EntityID: d.EntityID, Reason: "inclusion proof", Err: err}
	}
	return nil
}

func decodeHex32(s string) ([32]byte, error) {
	var out [32]byte
	if len(s) != 64 {
		return out, fmt.Errorf("%d characters, want 64 hex digits", len(s))
	}
	if _, err := hex.Decode(out[:], []byte(s)); err != nil {
		return out, errors.New("not hex")
	}
	return out, nil
}

// ParseDigest decodes a 64-hex-digit digest (a field or object digest, a
// proof node).
func ParseDigest(s string) ([32]byte, error) {
	d, err := decodeHex32(s)
	if err != nil {
		return d, &MalformedError{What: "digest", Err: err}
	}
	return d, nil
}

func clipID(s string) string {
	if len(s) > maxQuoted {
		return s[:maxQuoted]
	}
	return s
}
