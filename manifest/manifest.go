package manifest

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/Masterminds/semver/v3"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// Schema is the JSON Schema (draft 2020-12) of connector.json.
//
//go:embed connector.schema.json
var Schema []byte

// SchemaURL is the $id of Schema.
const SchemaURL = "https://sluice.dev/schemas/connector.json"

// MaxSize is the largest manifest Parse accepts.
const MaxSize = 1 << 20

// compiledSchema is immutable once built; compiling it once per process
// is a cache, not shared mutable state.
var compiledSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	return compileSchema(SchemaURL, Schema)
})

var printer = message.NewPrinter(language.English)

func compileSchema(url string, doc []byte) (*jsonschema.Schema, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(url, v); err != nil {
		return nil, err
	}
	return c.Compile(url)
}

// Parse decodes and validates a manifest. The error, when not nil, is a
// *ValidationError listing every problem with the field it concerns.
func Parse(data []byte) (*protocol.Manifest, error) {
	if len(data) > MaxSize {
		return nil, &ValidationError{Problems: []FieldError{{Field: "", Message: fmt.Sprintf("manifest is %d bytes, the limit is %d", len(data), MaxSize)}}}
	}
	sch, err := compiledSchema()
	if err != nil {
		return nil, fmt.Errorf("manifest schema: %w", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, &ValidationError{Problems: []FieldError{{Field: "", Message: "not JSON: " + err.Error()}}}
	}
	if err := sch.Validate(inst); err != nil {
		ve := &ValidationError{}
		var verr *jsonschema.ValidationError
		if ok := asValidation(err, &verr); ok {
			collect(verr, ve)
		} else {
			ve.add("", "%v", err)
		}
		return nil, ve
	}
	var m protocol.Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, &ValidationError{Problems: []FieldError{{Field: "", Message: err.Error()}}}
	}
	if err := Validate(&m); err != nil {
		return nil, err
	}
	return &m, nil
}

func asValidation(err error, target **jsonschema.ValidationError) bool {
	v, ok := err.(*jsonschema.ValidationError)
	if ok {
		*target = v
	}
	return ok
}

// collect flattens the leaves of a schema validation error tree.
func collect(e *jsonschema.ValidationError, ve *ValidationError) {
	if len(e.Causes) == 0 {
		ve.add(strings.Join(e.InstanceLocation, "/"), "%s", e.ErrorKind.LocalizedString(printer))
		return
	}
	for _, c := range e.Causes {
		collect(c, ve)
	}
}

// Validate checks the rules of a manifest that its JSON Schema cannot
// express. Parse calls it; callers that build a Manifest in Go call it
// directly.
func Validate(m *protocol.Manifest) error {
	ve := &ValidationError{}
	if _, err := semver.StrictNewVersion(m.Version); err != nil {
		ve.add("version", "%q is not a semantic version (MAJOR.MINOR.PATCH): %v", m.Version, err)
	}
	scopes := map[string]bool{}
	for i, s := range m.Scopes {
		if scopes[s.Name] {
			ve.add(fmt.Sprintf("scopes/%d/name", i), "duplicate scope %q", s.Name)
		}
		scopes[s.Name] = true
		if strings.TrimSpace(s.Reason) == "" {
			ve.add(fmt.Sprintf("scopes/%d/reason", i), "scope %q needs a reason", s.Name)
		}
	}
	for i, h := range m.Hosts {
		validateHost(ve, i, h)
	}
	objects := map[string]bool{}
	for i, o := range m.ObjectTypes {
		f := fmt.Sprintf("object_types/%d", i)
		if objects[o.Name] {
			ve.add(f+"/name", "duplicate object type %q", o.Name)
		}
		objects[o.Name] = true
		if _, err := compileSchema("https://sluice.dev/schemas/objects/"+o.Name+".json", o.Schema); err != nil {
			ve.add(f+"/schema", "object type %q: schema does not compile: %v", o.Name, err)
		}
		if len(o.Fields) == 0 {
			ve.add(f+"/fields", "object type %q has an empty field allow-list", o.Name)
		}
	}
	edges := map[string]bool{}
	for i, e := range m.EdgeTypes {
		f := fmt.Sprintf("edge_types/%d", i)
		if edges[e.Name] {
			ve.add(f+"/name", "duplicate edge type %q", e.Name)
		}
		edges[e.Name] = true
		if !objects[e.From] {
			ve.add(f+"/from", "edge type %q: object type %q is not declared", e.Name, e.From)
		}
		if !objects[e.To] {
			ve.add(f+"/to", "edge type %q: object type %q is not declared", e.Name, e.To)
		}
	}
	streams := map[string]bool{}
	for i, s := range m.Streams {
		f := fmt.Sprintf("streams/%d", i)
		if streams[s.Name] {
			ve.add(f+"/name", "duplicate stream %q", s.Name)
		}
		streams[s.Name] = true
		for j, t := range s.ObjectTypes {
			if !objects[t] {
				ve.add(fmt.Sprintf("%s/object_types/%d", f, j), "stream %q: object type %q is not declared", s.Name, t)
			}
		}
		for j, t := range s.EdgeTypes {
			if !edges[t] {
				ve.add(fmt.Sprintf("%s/edge_types/%d", f, j), "stream %q: edge type %q is not declared", s.Name, t)
			}
		}
		for j, sc := range s.Scopes {
			if !scopes[sc] {
				ve.add(fmt.Sprintf("%s/scopes/%d", f, j), "stream %q: scope %q is not declared", s.Name, sc)
			}
		}
	}
	if has(m.Types, protocol.TypeIngestPull) && len(m.Streams) == 0 {
		ve.add("streams", "an ingest_pull connector must declare at least one stream")
	}
	actions := map[string]bool{}
	for _, a := range m.Actions {
		actions[a.Name] = true
	}
	for i, a := range m.Actions {
		for j, sc := range a.Scopes {
			if !scopes[sc] {
				ve.add(fmt.Sprintf("actions/%d/scopes/%d", i, j), "action %q: scope %q is not declared", a.Name, sc)
			}
		}
		if a.Inverse != "" && !actions[a.Inverse] {
			ve.add(fmt.Sprintf("actions/%d/inverse", i), "action %q: inverse %q is not declared", a.Name, a.Inverse)
		}
	}
	for i, c := range m.Checks {
		for j, sc := range c.Scopes {
			if !scopes[sc] {
				ve.add(fmt.Sprintf("checks/%d/scopes/%d", i, j), "check %q: scope %q is not declared", c.Name, sc)
			}
		}
	}
	if len(ve.Problems) > 0 {
		return ve
	}
	return nil
}

func validateHost(ve *ValidationError, i int, h protocol.HostRule) {
	f := fmt.Sprintf("hosts/%d/host", i)
	host := h.Host
	if strings.ContainsAny(host, "*?/@ ") || strings.Contains(host, "://") {
		ve.add(f, "%q must be an exact host name or IP (no wildcard, scheme, path or user)", host)
		return
	}
	if hp, port, err := net.SplitHostPort(host); err == nil {
		host = hp
		if port == "" {
			ve.add(f, "%q has an empty port", h.Host)
		}
	}
	if host == "" || strings.HasPrefix(host, ".") || strings.HasSuffix(host, ".") {
		ve.add(f, "%q is not a host name", h.Host)
	}
}

func has(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}
