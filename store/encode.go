package store

import (
	"bytes"
	"encoding/json"
	"time"
)

// appendObject appends the JSON record of o, byte for byte what
// encoding/json with SetEscapeHTML(false) writes for *Object (FuzzObjectJSON
// checks it), without reflection: objects are the hot record of every
// page. compact is scratch space for validating and compacting o.Data.
func appendObject(b []byte, o *Object, compact *bytes.Buffer) ([]byte, error) {
	b = append(b, `{"entity_id":`...)
	b = appendString(b, o.EntityID)
	b = append(b, `,"connection":`...)
	b = appendString(b, o.Connection)
	b = append(b, `,"connector":`...)
	b = appendString(b, o.Connector)
	b = append(b, `,"type":`...)
	b = appendString(b, o.Type)
	b = append(b, `,"source_id":`...)
	b = appendString(b, o.SourceID)
	b = append(b, `,"data":`...)
	if o.Data == nil {
		b = append(b, "null"...)
	} else {
		compact.Reset()
		if err := json.Compact(compact, o.Data); err != nil {
			return nil, err
		}
		b = append(b, compact.Bytes()...)
	}
	b = append(b, `,"digest":`...)
	b = appendString(b, o.Digest)
	if o.CreatedAt != "" {
		b = append(b, `,"created_at":`...)
		b = appendString(b, o.CreatedAt)
	}
	if o.UpdatedAt != "" {
		b = append(b, `,"updated_at":`...)
		b = appendString(b, o.UpdatedAt)
	}
	if !o.ObservedAt.IsZero() {
		var err error
		b = append(b, `,"observed_at":`...)
		if b, err = appendTime(b, o.ObservedAt); err != nil {
			return nil, err
		}
	}
	b = append(b, `,"run_id":`...)
	b = appendString(b, o.RunID)
	return append(b, '}'), nil
}

// appendString appends s as a JSON string. Plain printable ASCII, which
// is every validated name and nearly every source id, is copied as is;
// anything else goes through encoding/json for its exact escaping.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			v, _ := marshal(s) // a string always encodes
			return append(b, v...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendTime appends t as time.Time.MarshalJSON does.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	b, err := t.AppendText(b)
	if err != nil {
		return nil, err
	}
	return append(b, '"'), nil
}
