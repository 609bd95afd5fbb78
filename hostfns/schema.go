package hostfns

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// Schemas are a manifest's object type schemas, compiled once per module
// and shared by every Emitter of that module (read-only, safe for
// concurrent use).
type Schemas struct {
	byType map[string]*jsonschema.Schema
}

// CompileSchemas compiles the JSON Schema of every object type of m. A
// schema without "$schema" is read as draft 2020-12. References outside
// the schema itself ("$ref" to a file or URL) are refused: compiling a
// partner's manifest must not read the host's files or the network.
func CompileSchemas(m *protocol.Manifest) (*Schemas, error) {
	s := &Schemas{byType: map[string]*jsonschema.Schema{}}
	if m == nil {
		return s, nil
	}
	for _, ot := range m.ObjectTypes {
		if _, dup := s.byType[ot.Name]; dup {
			return nil, &SchemaError{Type: ot.Name, Err: fmt.Errorf("%w: declared twice", ErrBadSchema)}
		}
		sch, err := compileSchema(ot)
		if err != nil {
			return nil, &SchemaError{Type: ot.Name, Err: err}
		}
		s.byType[ot.Name] = sch
	}
	return s, nil
}

func compileSchema(ot protocol.ObjectType) (*jsonschema.Schema, error) {
	raw := bytes.TrimSpace(ot.Schema)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, ErrNoSchema
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: not JSON: %v", ErrBadSchema, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(noLoader{})
	loc := "mem://sluice/object_types/" + url.PathEscape(ot.Name) + ".json"
	if err := c.AddResource(loc, doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSchema, err)
	}
	sch, err := c.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSchema, err)
	}
	return sch, nil
}

// noLoader refuses every external reference.
type noLoader struct{}

func (noLoader) Load(u string) (any, error) {
	return nil, fmt.Errorf("external schema references are not allowed (%s)", u)
}

// lookup returns the compiled schema of an object type (nil if s is nil or
// the type has none).
func (s *Schemas) lookup(typ string) *jsonschema.Schema {
	if s == nil {
		return nil
	}
	return s.byType[typ]
}

// Types returns how many object types were compiled.
func (s *Schemas) Types() int {
	if s == nil {
		return 0
	}
	return len(s.byType)
}

// schemaReason turns a validation failure into one line that names the
// field and keyword, e.g. "at '/email': missing property 'email' (required)".
func schemaReason(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	leaves := schemaLeaves(ve, nil, 3)
	parts := make([]string, 0, len(leaves))
	for _, l := range leaves {
		// A leaf's Error() is its own line: "at '/age': got string, want integer".
		parts = append(parts, fmt.Sprintf("%s (%s)", l.Error(), strings.Join(l.ErrorKind.KeywordPath(), "/")))
	}
	return strings.Join(parts, "; ")
}

// schemaLeaves collects up to n innermost errors, depth first: they name
// the actual field and keyword, where the outer ones only say "failed".
func schemaLeaves(e *jsonschema.ValidationError, out []*jsonschema.ValidationError, n int) []*jsonschema.ValidationError {
	if len(out) >= n {
		return out
	}
	if len(e.Causes) == 0 {
		return append(out, e)
	}
	for _, c := range e.Causes {
		out = schemaLeaves(c, out, n)
	}
	return out
}
