package hostfns

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
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
// Values also kept in an accepted object are never replaced: the guest
// may have copied them into a kept field, and replacing them would make
// the replay differ. A nil *Drops minimises nothing.
type Drops struct {
	names  map[string]struct{} // field names not kept
	values map[string]struct{} // dropped string values (at least MinSecretLen bytes)
	kept   map[string]struct{} // string and number values of kept fields
}

func newDrops() *Drops {
	return &Drops{names: map[string]struct{}{}, values: map[string]struct{}{}, kept: map[string]struct{}{}}
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
func (d *Drops) keep(v any) {
	walkLeaves(v, func(s string, _ bool) { d.kept[s] = struct{}{} })
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
		return d.JSON(b)
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
	if d.empty() || len(b) == 0 {
		return b, 0
	}
	edits, n := d.scan(b)
	if n == 0 {
		return b, 0
	}
	out := make([]byte, 0, len(b))
	last := 0
	for _, e := range edits {
		out = append(out, b[last:e.start]...)
		out = append(out, e.repl...)
		last = e.end
	}
	return append(out, b[last:]...), n
}

type edit struct {
	start, end int
	repl       []byte
}

// frame is one open JSON container of a scan.
type frame struct {
	object    bool
	expectKey bool
	key       string
	dropped   bool // inside the value of a field not kept
}

var droppedLiteral = []byte(`"` + tape.Dropped + `"`)

// scan lists the edits that minimise b, or none if b is not JSON.
func (d *Drops) scan(b []byte) ([]edit, int) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var (
		stack []frame
		edits []edit
		n     int
	)
	for {
		off := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF {
			return edits, n
		}
		if err != nil {
			return nil, 0
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if key, ok := tok.(string); ok && top != nil && top.object && top.expectKey {
			top.key, top.expectKey = key, false
			continue
		}
		dropped := false
		if top != nil {
			_, named := d.names[top.key]
			dropped = top.dropped || (top.object && named)
		}
		switch t := tok.(type) {
		case json.Delim:
			if t == '}' || t == ']' {
				stack = stack[:len(stack)-1]
				continue
			}
			if top != nil && top.object {
				top.expectKey = true
			}
			stack = append(stack, frame{object: t == '{', expectKey: t == '{', dropped: dropped})
			continue
		}
		if top != nil && top.object {
			top.expectKey = true
		}
		raw := b[off:dec.InputOffset()]
		start := int(off) + len(raw) - len(bytes.TrimLeft(raw, " \t\r\n,:"))
		end := int(dec.InputOffset())
		if repl, k := d.leaf(tok, dropped); k > 0 {
			edits = append(edits, edit{start: start, end: end, repl: repl})
			n += k
		}
	}
}

// leaf decides one scalar: the replacement and how many values it
// replaces (0 keeps it).
func (d *Drops) leaf(tok any, dropped bool) ([]byte, int) {
	switch v := tok.(type) {
	case string:
		if _, kept := d.kept[v]; kept {
			return nil, 0
		}
		if _, ok := d.values[v]; ok || dropped {
			return droppedLiteral, 1
		}
		if t := strings.TrimSpace(v); t != "" && (t[0] == '{' || t[0] == '[') {
			if inner, k := d.JSON([]byte(v)); k > 0 {
				q, err := json.Marshal(string(inner))
				if err == nil {
					return q, k
				}
			}
		}
	case json.Number:
		if _, kept := d.kept[string(v)]; dropped && !kept {
			return []byte("0"), 1
		}
	}
	return nil, 0
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
	e.mu.Lock()
	d.merge(e.drops)
	e.mu.Unlock()
	for _, pol := range e.objects {
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
	return d
}
