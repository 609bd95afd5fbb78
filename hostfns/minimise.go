package hostfns

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/tape"
)

// Drops is what data minimisation removed during one invocation: the
// names of the fields dropped or not kept, and the string values they
// held. The engine minimises the invocation's tape call and dead-letter
// input with it ([Drops.Call], [Drops.JSON]), so that a value the store
// may not keep is not kept by the tape either.
//
// A value an accepted object kept is not replaced where the guest may
// have copied it from: under a dropped name only if it was kept under
// that same name (a mixed call's other type keeps the field), and as a
// dropped value elsewhere if it was kept at all. Replacing it would make
// the replay differ. A nil *Drops minimises nothing.
type Drops struct {
	names  map[string]struct{} // field names not kept
	values map[string]struct{} // dropped string values (at least MinSecretLen bytes)
	kept   map[string]struct{} // string and number values of kept fields
	keptBy map[string]struct{} // the same, as field name + "\x00" + value
}

func newDrops() *Drops {
	return &Drops{names: map[string]struct{}{}, values: map[string]struct{}{}, kept: map[string]struct{}{}, keptBy: map[string]struct{}{}}
}

// drop notes a field removed from an object, with its value.
func (d *Drops) drop(name string, v any) {
	d.names[name] = struct{}{}
	walkLeaves(v, func(s string, isString bool) {
		if isString && len(s) >= MinSecretLen {
			d.values[s] = struct{}{}
		}
	})
}

// keep notes the values of an accepted object's kept data.
func (d *Drops) keep(data map[string]any) {
	for name, v := range data {
		walkLeaves(v, func(s string, _ bool) {
			d.kept[s] = struct{}{}
			d.keptBy[name+"\x00"+s] = struct{}{}
		})
	}
}

// keptAs reports whether v was kept under the field name.
func (d *Drops) keptAs(name, v string) bool {
	_, ok := d.keptBy[name+"\x00"+v]
	return ok
}

func (d *Drops) merge(o *Drops) {
	for k := range o.names {
		d.names[k] = struct{}{}
	}
	for k := range o.values {
		d.values[k] = struct{}{}
	}
	for k := range o.kept {
		d.kept[k] = struct{}{}
	}
	for k := range o.keptBy {
		d.keptBy[k] = struct{}{}
	}
}

func (d *Drops) empty() bool { return d == nil || len(d.names)+len(d.values) == 0 }

// walkLeaves calls fn with every string and number of a decoded tree.
func walkLeaves(v any, fn func(s string, isString bool)) {
	switch x := v.(type) {
	case string:
		fn(x, true)
	case json.Number:
		fn(string(x), false)
	case []any:
		for _, e := range x {
			walkLeaves(e, fn)
		}
	case map[string]any:
		for _, e := range x {
			walkLeaves(e, fn)
		}
	}
}

// Call minimises a recorded call in place: its input and the bodies of
// the answers the guest was given. It returns how many values it
// replaced, which it also adds to c.Minimised. Request bodies and URLs
// are the guest's own words and are kept (the tape player matches them).
func (d *Drops) Call(c *tape.Call) int {
	if d.empty() {
		return 0
	}
	in, n := d.JSON(c.Input)
	c.Input = in
	for i := range c.Exchanges {
		r := &c.Exchanges[i].Response
		if len(r.Body) == 0 {
			continue
		}
		var k int
		r.Body, k = d.body(r.Body)
		n += k
	}
	c.Minimised += n
	return n
}

// body minimises an answer's body: JSON by field, anything else by value.
func (d *Drops) body(b []byte) ([]byte, int) {
	if json.Valid(b) {
		return d.valid(b)
	}
	n := 0
	for v := range d.values {
		if _, ok := d.kept[v]; ok {
			continue
		}
		if c := bytes.Count(b, []byte(v)); c > 0 {
			b = bytes.ReplaceAll(b, []byte(v), []byte(tape.Dropped))
			n += c
		}
	}
	return b, n
}

// JSON returns b with the value of every field not kept, and every
// dropped value wherever it appears, replaced by [tape.Dropped] (a
// number under a dropped field by 0), and how many it replaced.
// Everything else keeps its bytes. Input that is not JSON is returned as
// is. JSON held in a string (an embedded document) is minimised too.
func (d *Drops) JSON(b []byte) ([]byte, int) {
	if d.empty() || len(b) == 0 || !json.Valid(b) {
		return b, 0
	}
	return d.valid(b)
}

// valid is JSON for b known to be valid JSON.
func (d *Drops) valid(b []byte) ([]byte, int) {
	sc := jsonScan{d: d, b: b}
	sc.value(false, "")
	if sc.n == 0 {
		return b, 0
	}
	out := make([]byte, 0, len(b))
	last := 0
	for _, e := range sc.edits {
		out = append(out, b[last:e.start]...)
		out = append(out, e.repl...)
		last = e.end
	}
	return append(out, b[last:]...), sc.n
}

type edit struct {
	start, end int
	repl       []byte
}

var droppedLiteral = []byte(`"` + tape.Dropped + `"`)

// jsonScan walks valid JSON once, by recursive descent, and lists the
// edits that minimise it. It trusts its input: json.Valid has checked
// the syntax and bounded the nesting (10,000 levels), so it needs no
// error paths. It is several times faster than encoding/json's token
// stream, which matters: every page of a recorded run goes through it.
type jsonScan struct {
	d     *Drops
	b     []byte
	i     int
	edits []edit
	n     int
}

func (s *jsonScan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value scans one value; dropped says it belongs to a field not kept,
// the one named name.
func (s *jsonScan) value(dropped bool, name string) {
	s.ws()
	switch c := s.b[s.i]; {
	case c == '{':
		s.i++
		for {
			s.ws()
			if s.b[s.i] == '}' {
				s.i++
				return
			}
			if s.b[s.i] == ',' {
				s.i++
				s.ws()
			}
			start := s.i
			s.str()
			key := s.text(start, s.i)
			s.ws()
			s.i++ // ':'
			if _, named := s.d.names[key]; named && !dropped {
				s.value(true, key)
			} else {
				s.value(dropped, name)
			}
		}
	case c == '[':
		s.i++
		for {
			s.ws()
			switch s.b[s.i] {
			case ']':
				s.i++
				return
			case ',':
				s.i++
			}
			s.value(dropped, name)
		}
	case c == '"':
		start := s.i
		s.str()
		s.leafString(start, dropped, name)
	case c == 't' || c == 'n':
		s.i += 4
	case c == 'f':
		s.i += 5
	default:
		start := s.i
		for s.i < len(s.b) && strings.IndexByte("+-.0123456789eE", s.b[s.i]) >= 0 {
			s.i++
		}
		if dropped && !s.d.keptAs(name, string(s.b[start:s.i])) {
			s.add(start, []byte("0"), 1)
		}
	}
}

// str moves past the string literal at s.i.
func (s *jsonScan) str() {
	s.i++
	for {
		switch s.b[s.i] {
		case '\\':
			s.i += 2
		case '"':
			s.i++
			return
		default:
			s.i++
		}
	}
}

// text is the value of the string literal b[start:end].
func (s *jsonScan) text(start, end int) string {
	raw := s.b[start+1 : end-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	var v string
	if json.Unmarshal(s.b[start:end], &v) != nil {
		return string(raw)
	}
	return v
}

func (s *jsonScan) leafString(start int, dropped bool, name string) {
	v := s.text(start, s.i)
	if dropped {
		if !s.d.keptAs(name, v) {
			s.add(start, droppedLiteral, 1)
		}
		return
	}
	if _, ok := s.d.values[v]; ok {
		if _, kept := s.d.kept[v]; !kept {
			s.add(start, droppedLiteral, 1)
		}
		return
	}
	if t := strings.TrimSpace(v); t != "" && (t[0] == '{' || t[0] == '[') {
		if inner, k := s.d.JSON([]byte(v)); k > 0 {
			if q, err := json.Marshal(string(inner)); err == nil {
				s.add(start, q, k)
			}
		}
	}
}

// add replaces b[start:s.i] by repl, which counts k values.
func (s *jsonScan) add(start int, repl []byte, k int) {
	s.edits = append(s.edits, edit{start: start, end: s.i, repl: repl})
	s.n += k
}

// outcome is what the host made of one emit batch, as a version 2 tape
// digests it: stable under minimisation (a dropped field's value does
// not count) and under the tenant (no entity ids).
type outcome struct {
	Error     string               `json:"error,omitempty"`
	Objects   []keptObject         `json:"objects,omitempty"`
	Edges     []protocol.Edge      `json:"edges,omitempty"`
	Deletions []protocol.Deletion  `json:"deletions,omitempty"`
	Rejected  []protocol.Rejection `json:"rejected,omitempty"`
}

type keptObject struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	UpdatedAt string `json:"updated_at,omitempty"`
	CreatedAt string `json:"created_at,omitempty"`
	Data      string `json:"data"` // SHA-256 of the kept canonical data
}

// digest is the hex SHA-256 of the outcome's JSON.
func (o *outcome) digest() string {
	b, err := json.Marshal(o)
	if err != nil { // only plain strings, numbers and slices: cannot fail
		b = []byte(err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Drops returns what minimisation dropped during this invocation, with
// the names of every field the stream's types declare (in their schema
// or allow-list) but do not keep, so a call that failed before emitting
// is minimised too. It is nil unless EmitConfig.Recorder is set.
func (e *Emitter) Drops() *Drops {
	if e.drops == nil {
		return nil
	}
	d := newDrops()
	e.dmu.Lock()
	d.merge(e.drops)
	e.dmu.Unlock()
	d.declared(e.objects)
	return d
}

// ManifestDrops is the Drops of a call without an emit door (an action):
// every name the manifest's object types declare, in their schema or
// allow-list, but do not keep under the connection's narrowing. Values
// of input (the caller's own parameters, which the guest may send and
// the remote echo) are spared under their names.
func ManifestDrops(m *protocol.Manifest, s *Schemas, narrow map[string][]string, input map[string]any) *Drops {
	e := NewEmitter(EmitConfig{Manifest: m, Schemas: s, Narrow: narrow})
	d := newDrops()
	d.declared(e.objects)
	d.keep(input)
	return d
}

// declared adds the names the in-stream types declare but do not keep.
func (d *Drops) declared(objects map[string]*objectPolicy) {
	for _, pol := range objects {
		if !pol.inStream {
			continue
		}
		keep := pol.fields
		if pol.keep != nil {
			keep = pol.keep
		}
		for name := range pol.fields {
			if _, ok := keep[name]; !ok {
				d.names[name] = struct{}{}
			}
		}
		if pol.schema != nil {
			for name := range pol.schema.Properties {
				if _, ok := keep[name]; !ok {
					d.names[name] = struct{}{}
				}
			}
		}
	}
}
