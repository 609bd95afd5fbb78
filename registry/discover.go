package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// agree lists every disagreement between the manifest and what the
// module's discover() answered: id, version, types, scopes (with their
// reasons), streams, object types (schemas and field policies), edge
// types, actions and checks. Descriptions are not compared.
func agree(m *protocol.Manifest, d protocol.DiscoverResponse) []FieldError {
	a := &agreement{}
	a.value("id", "id", m.ID, d.ID)
	a.value("version", "version", m.Version, d.Version)
	a.set("types", "types", m.Types, d.Types)
	matchNamed(a, "scopes", "scope", m.Scopes, d.Scopes, func(s protocol.Scope) string { return s.Name },
		func(ptr string, x, y protocol.Scope) {
			a.value(ptr+"/reason", "the reason of scope "+quote(x.Name), x.Reason, y.Reason)
		})
	matchNamed(a, "streams", "stream", m.Streams, d.Streams, func(s protocol.Stream) string { return s.Name },
		func(ptr string, x, y protocol.Stream) {
			what := "stream " + quote(x.Name)
			a.set(ptr+"/object_types", "the object types of "+what, x.ObjectTypes, y.ObjectTypes)
			a.set(ptr+"/edge_types", "the edge types of "+what, x.EdgeTypes, y.EdgeTypes)
			a.set(ptr+"/scopes", "the scopes of "+what, x.Scopes, y.Scopes)
			a.value(ptr+"/backfill", "backfill of "+what, x.Backfill, y.Backfill)
		})
	matchNamed(a, "object_types", "object type", m.ObjectTypes, d.ObjectTypes, func(o protocol.ObjectType) string { return o.Name },
		func(ptr string, x, y protocol.ObjectType) {
			what := "object type " + quote(x.Name)
			a.json(ptr+"/schema", "the schema of "+what, x.Schema, y.Schema)
			a.fields(ptr+"/fields", what, x.Fields, y.Fields)
		})
	matchNamed(a, "edge_types", "edge type", m.EdgeTypes, d.EdgeTypes, func(e protocol.EdgeType) string { return e.Name },
		func(ptr string, x, y protocol.EdgeType) {
			a.value(ptr+"/from", "from of edge type "+quote(x.Name), x.From, y.From)
			a.value(ptr+"/to", "to of edge type "+quote(x.Name), x.To, y.To)
		})
	matchNamed(a, "actions", "action", m.Actions, d.Actions, func(x protocol.Action) string { return x.Name },
		func(ptr string, x, y protocol.Action) {
			what := "action " + quote(x.Name)
			a.value(ptr+"/destructive", "destructive of "+what, x.Destructive, y.Destructive)
			a.set(ptr+"/scopes", "the scopes of "+what, x.Scopes, y.Scopes)
			a.json(ptr+"/params", "the params of "+what, x.Params, y.Params)
			a.value(ptr+"/inverse", "the inverse of "+what, x.Inverse, y.Inverse)
		})
	matchNamed(a, "checks", "check", m.Checks, d.Checks, func(c protocol.Check) string { return c.Name },
		func(ptr string, x, y protocol.Check) {
			a.value(ptr+"/control", "the control of check "+quote(x.Name), x.Control, y.Control)
			a.set(ptr+"/scopes", "the scopes of check "+quote(x.Name), x.Scopes, y.Scopes)
		})
	return a.errs
}

type agreement struct{ errs []FieldError }

func (a *agreement) add(ptr, format string, args ...any) {
	a.errs = append(a.errs, fieldErr(manifestField(ptr), CodeDiscoverMismatch, format, args...))
}

func (a *agreement) value(ptr, what string, manifest, discovered any) {
	if !reflect.DeepEqual(manifest, discovered) {
		a.add(ptr, "%s is %s in connector.json but %s in discover()", what, show(manifest), show(discovered))
	}
}

func (a *agreement) set(ptr, what string, manifest, discovered []string) {
	a.value(ptr, what, sortedUnique(manifest), sortedUnique(discovered))
}

// json compares two JSON documents by meaning, not bytes; absent and
// null are the same.
func (a *agreement) json(ptr, what string, manifest, discovered json.RawMessage) {
	if !sameJSON(manifest, discovered) {
		a.add(ptr, "%s in connector.json differs from discover()'s", what)
	}
}

// matchNamed pairs two lists by name: a name on one side only is a
// disagreement, a pair is compared by same.
func matchNamed[T any](a *agreement, ptr, kind string, manifest, discovered []T, name func(T) string, same func(ptr string, x, y T)) {
	theirs := indexBy(discovered, name)
	ours := indexBy(manifest, name)
	for i, x := range manifest {
		j, ok := theirs[name(x)]
		if !ok {
			a.add(fmt.Sprintf("%s/%d", ptr, i), "%s %q is declared in connector.json but discover() does not report it", kind, name(x))
			continue
		}
		same(fmt.Sprintf("%s/%d", ptr, i), x, discovered[j])
	}
	for _, y := range discovered {
		if _, ok := ours[name(y)]; !ok {
			a.add(ptr, "discover() reports %s %q, which connector.json does not declare", kind, name(y))
		}
	}
}

func sameJSON(x, y json.RawMessage) bool {
	decode := func(b json.RawMessage) (any, bool) {
		if len(bytes.TrimSpace(b)) == 0 {
			return nil, true
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var v any
		return v, dec.Decode(&v) == nil
	}
	vx, okx := decode(x)
	vy, oky := decode(y)
	return okx && oky && reflect.DeepEqual(vx, vy)
}

// fields compares two field policies field by field.
func (a *agreement) fields(ptr, what string, manifest, discovered map[string]protocol.FieldPolicy) {
	for _, f := range sortedKeys(manifest) {
		d, ok := discovered[f]
		switch {
		case !ok:
			a.add(ptr+"/"+escapePointer(f), "field %q of %s is allowed in connector.json but not in discover()", f, what)
		case d.PII != manifest[f].PII:
			a.add(ptr+"/"+escapePointer(f)+"/pii", "the PII class of field %q of %s is %s in connector.json but %s in discover()",
				f, what, show(manifest[f].PII), show(d.PII))
		}
	}
	for _, f := range sortedKeys(discovered) {
		if _, ok := manifest[f]; !ok {
			a.add(ptr, "discover() allows field %q of %s, which connector.json does not", f, what)
		}
	}
}

func sortedUnique(list []string) []string {
	out := slices.Clone(list)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}

func show(v any) string {
	switch v := v.(type) {
	case string:
		if v == "" {
			return "empty"
		}
		return quote(v)
	case []string:
		return "[" + strings.Join(v, ", ") + "]"
	}
	return fmt.Sprint(v)
}

func quote(s string) string { return fmt.Sprintf("%q", s) }
