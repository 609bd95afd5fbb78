package sdk

import (
	"encoding/json"
	"fmt"

	"github.com/sluicehq/sluice/guest-sdk/internal/jsonfast"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// RecordKeys names the members of a remote JSON record that carry an
// object's id and timestamps. Each empty field means its default: "id",
// "created_at", "updated_at"; the zero value fits most REST APIs.
type RecordKeys struct {
	ID, CreatedAt, UpdatedAt string
}

// ObjectFromRecord returns the object of type typ for one JSON record
// as the remote sent it: Data is the record itself (not copied), and ID,
// CreatedAt and UpdatedAt are read from the members keys names (a number
// id gives its literal text, a missing timestamp stays empty). It checks
// the record is one valid JSON object and decodes nothing else: in a
// Wasm guest, json.Unmarshal into a struct per record costs several times
// as much and is the largest cost of a typical sync. A record that is not
// an object, lacks the id or has a non-scalar one is an error wrapping
// ErrBadRecord.
func ObjectFromRecord(typ string, record json.RawMessage, keys RecordKeys) (protocol.Object, error) {
	names := []string{or(keys.ID, "id"), or(keys.CreatedAt, "created_at"), or(keys.UpdatedAt, "updated_at")}
	var vals [3]string
	var found [3]bool
	if err := jsonfast.Scalars(record, names, vals[:], found[:]); err != nil {
		return protocol.Object{}, fmt.Errorf("%w: %s record: %v", ErrBadRecord, typ, err)
	}
	if !found[0] || vals[0] == "" {
		return protocol.Object{}, fmt.Errorf("%w: %s record without %q", ErrBadRecord, typ, names[0])
	}
	return protocol.Object{Type: typ, ID: vals[0], CreatedAt: vals[1], UpdatedAt: vals[2], Data: record}, nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// RawMembers validates obj as one JSON object and returns the raw values
// of its top-level members named by keys, in the order of keys: nil for
// an absent member, the last one for a repeated member (exact,
// case-sensitive names). The values are subslices of obj, not copies.
// With RawElements it takes a list response apart without decoding the
// records, which ObjectFromRecord then reads:
//
//	v, err := sdk.RawMembers(resp.Body, "data", "next_cursor")
//	items, err := sdk.RawElements(v[0])
func RawMembers(obj []byte, keys ...string) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, len(keys))
	if err := jsonfast.Members(obj, keys, out); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadJSON, err)
	}
	return out, nil
}

// RawElements validates arr as one JSON array and returns its elements
// as subslices of arr. A null arr (an absent member) has no elements.
func RawElements(arr []byte) ([]json.RawMessage, error) {
	if arr == nil || string(arr) == "null" {
		return nil, nil
	}
	out, err := jsonfast.Elements(arr)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadJSON, err)
	}
	return out, nil
}
