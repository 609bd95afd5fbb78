package registry

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/store"
)

// ChangeKind names a breaking change.
type ChangeKind string

// The breaking changes the registry detects between two versions.
const (
	RemovedObjectType ChangeKind = "removed_object_type"
	RemovedField      ChangeKind = "removed_field" // from the schema's properties or from the field allow-list
	ChangedType       ChangeKind = "changed_type"  // a property's "type" differs in any way, widening included
	NewRequiredField  ChangeKind = "new_required_field"
	RemovedStream     ChangeKind = "removed_stream"
	RemovedEdgeType   ChangeKind = "removed_edge_type"
	ChangedEdgeType   ChangeKind = "changed_edge_type" // from or to differ
	RemovedAction     ChangeKind = "removed_action"
	RemovedCheck      ChangeKind = "removed_check"
)

// Change is one breaking change of an upload against an earlier (or,
// for a back-ported patch, a later) stored version.
type Change struct {
	Kind ChangeKind `json:"kind"`
	// Against is the stored version the upload is compared with.
	Against    string `json:"against"`
	ObjectType string `json:"object_type,omitempty"`
	// Field is the property's path in the object: "email",
	// "address.city", "tags[]" for an array's items.
	Field    string `json:"field,omitempty"`
	EdgeType string `json:"edge_type,omitempty"`
	Stream   string `json:"stream,omitempty"`
	Action   string `json:"action,omitempty"`
	Check    string `json:"check,omitempty"`
	// Was and Now are the old and new "type" of a ChangedType field, or
	// "from->to" of a ChangedEdgeType.
	Was     string `json:"was,omitempty"`
	Now     string `json:"now,omitempty"`
	Message string `json:"message"`
}

// change is a Change and where it is in the newer connector.json.
type change struct {
	Change
	pointer string
}

// release is a stored version with its manifest decoded.
type release struct {
	v *semver.Version
	m *protocol.Manifest
}

// checkCompat applies the versioning rules to an upload of version v
// with manifest m, given the connector's stored versions (v itself is
// not among them). Pre-releases are never a base: they promise nothing.
func checkCompat(v *semver.Version, m *protocol.Manifest, stored []store.RegistryVersion) error {
	var prevSame, prevAny, nextSame *release
	for _, rec := range stored {
		sv, err := semver.StrictNewVersion(rec.Version)
		if err != nil || sv.Prerelease() != "" {
			continue
		}
		var sm protocol.Manifest
		if err := json.Unmarshal(rec.Manifest, &sm); err != nil {
			return fmt.Errorf("registry: stored manifest of %s@%s: %w", rec.Connector, rec.Version, err)
		}
		r := &release{v: sv, m: &sm}
		switch {
		case sv.LessThan(v):
			if prevAny == nil || sv.GreaterThan(prevAny.v) {
				prevAny = r
			}
			if sv.Major() == v.Major() && (prevSame == nil || sv.GreaterThan(prevSame.v)) {
				prevSame = r
			}
		case sv.Major() == v.Major() && v.Prerelease() == "":
			if nextSame == nil || sv.LessThan(nextSame.v) {
				nextSame = r
			}
		}
	}
	var changes []change
	switch {
	case prevSame != nil:
		if changes = diffManifests(prevSame, m); len(changes) > 0 {
			return breaking(CodeBreakingChange, fmt.Sprintf("version %s breaks %s: a minor or patch version must keep every schema compatible; publish %d.0.0 with a migration instead",
				v, prevSame.v, v.Major()+1), changes)
		}
	case prevAny != nil:
		changes = diffManifests(prevAny, m)
		if err := checkMigration(v, m, prevAny, changes); err != nil {
			return err
		}
	}
	if nextSame != nil {
		later := diffManifests(&release{v: v, m: m}, nextSame.m)
		for i := range later {
			later[i].Against = nextSame.v.String()
			later[i].pointer = "" // the pointers are into the stored manifest, not this one
			later[i].Message = fmt.Sprintf("the stored %s would break against this version: %s", nextSame.v, later[i].Message)
		}
		if len(later) > 0 {
			return breaking(CodeBreakingChange, fmt.Sprintf("the stored version %s would break against %s: a back-ported version must not have what %s dropped",
				nextSame.v, v, nextSame.v), later)
		}
	}
	return nil
}

// checkMigration applies the rule of a new major version: breaking the
// previous major needs a migration from it.
func checkMigration(v *semver.Version, m *protocol.Manifest, prev *release, changes []change) error {
	if m.Migration == nil {
		if len(changes) == 0 {
			return nil
		}
		return breaking(CodeMigrationRequired, fmt.Sprintf("major version %s breaks %s: add a migration with \"from\": \"%d\" to connector.json",
			v, prev.v, prev.v.Major()), changes)
	}
	from := strings.TrimPrefix(strings.TrimSpace(m.Migration.From), "v")
	if i := strings.IndexByte(from, '.'); i >= 0 {
		from = from[:i]
	}
	if major, err := strconv.ParseUint(from, 10, 64); err != nil || major != prev.v.Major() {
		fe := fieldErr(manifestField("migration/from"), CodeInvalidMigration,
			"migration.from is %q, but this major version follows %s: name major %d (\"%d\" or a %d.x.y version)",
			m.Migration.From, prev.v, prev.v.Major(), prev.v.Major(), prev.v.Major())
		return newError(ErrInvalid, CodeInvalidMigration, fe.Message, fe)
	}
	return nil
}

func breaking(code, msg string, changes []change) error {
	errs := make([]FieldError, len(changes))
	list := make([]Change, len(changes))
	for i, c := range changes {
		errs[i] = FieldError{Field: manifestField(c.pointer), Code: code, Message: c.Message}
		list[i] = c.Change
	}
	e := newError(ErrInvalid, code, msg, errs...)
	e.BreakingChanges = list
	return e
}

// diffManifests lists what m breaks of base: removed object types,
// fields, streams, edge types, actions and checks, changed property
// types and edge ends, and newly required properties. Pointers are into
// m. Schemas are compared through "properties", "required", "type" and
// "items"; other keywords ($ref, allOf, formats, bounds) are not.
func diffManifests(base *release, m *protocol.Manifest) []change {
	d := &differ{against: base.v.String()}
	newTypes := indexBy(m.ObjectTypes, func(o protocol.ObjectType) string { return o.Name })
	for _, old := range base.m.ObjectTypes {
		i, ok := newTypes[old.Name]
		if !ok {
			d.add("object_types", Change{Kind: RemovedObjectType, ObjectType: old.Name},
				"object type %q was removed", old.Name)
			continue
		}
		d.objectType(old, m.ObjectTypes[i], fmt.Sprintf("object_types/%d", i))
	}
	newStreams := indexBy(m.Streams, func(s protocol.Stream) string { return s.Name })
	for _, s := range base.m.Streams {
		if _, ok := newStreams[s.Name]; !ok {
			d.add("streams", Change{Kind: RemovedStream, Stream: s.Name},
				"stream %q was removed", s.Name)
		}
	}
	newEdges := indexBy(m.EdgeTypes, func(e protocol.EdgeType) string { return e.Name })
	for _, e := range base.m.EdgeTypes {
		i, ok := newEdges[e.Name]
		switch {
		case !ok:
			d.add("edge_types", Change{Kind: RemovedEdgeType, EdgeType: e.Name},
				"edge type %q was removed", e.Name)
		case m.EdgeTypes[i].From != e.From || m.EdgeTypes[i].To != e.To:
			n := m.EdgeTypes[i]
			was, now := e.From+"->"+e.To, n.From+"->"+n.To
			d.add(fmt.Sprintf("edge_types/%d", i), Change{Kind: ChangedEdgeType, EdgeType: e.Name, Was: was, Now: now},
				"edge type %q went from %s to %s", e.Name, was, now)
		}
	}
	newActions := indexBy(m.Actions, func(a protocol.Action) string { return a.Name })
	for _, a := range base.m.Actions {
		if _, ok := newActions[a.Name]; !ok {
			d.add("actions", Change{Kind: RemovedAction, Action: a.Name},
				"action %q was removed", a.Name)
		}
	}
	newChecks := indexBy(m.Checks, func(c protocol.Check) string { return c.Name })
	for _, c := range base.m.Checks {
		if _, ok := newChecks[c.Name]; !ok {
			d.add("checks", Change{Kind: RemovedCheck, Check: c.Name},
				"check %q was removed", c.Name)
		}
	}
	return d.changes
}

type differ struct {
	against string
	changes []change
}

func (d *differ) add(pointer string, c Change, format string, args ...any) {
	c.Against, c.Message = d.against, fmt.Sprintf(format, args...)
	d.changes = append(d.changes, change{Change: c, pointer: pointer})
}

func (d *differ) objectType(old, cur protocol.ObjectType, ptr string) {
	var os, ns map[string]any
	_ = json.Unmarshal(old.Schema, &os) // both were validated as JSON objects
	_ = json.Unmarshal(cur.Schema, &ns)
	removed := map[string]bool{}
	d.schema(old.Name, ptr+"/schema", "", os, ns, removed)
	for _, f := range sortedKeys(old.Fields) {
		if _, ok := cur.Fields[f]; !ok && !removed[f] {
			d.add(ptr+"/fields", Change{Kind: RemovedField, ObjectType: old.Name, Field: f},
				"object type %q: field %q left the field allow-list, so the host drops it", old.Name, f)
		}
	}
}

// schema compares one level of two object schemas; path is the dotted
// prefix of its properties ("" at the top), removed collects the
// top-level properties found removed.
func (d *differ) schema(ot, ptr, path string, old, cur map[string]any, removed map[string]bool) {
	oldProps, newProps := props(old), props(cur)
	for _, name := range sortedKeys(oldProps) {
		field := path + name
		np, ok := newProps[name]
		if !ok {
			if path == "" {
				removed[name] = true
			}
			d.add(ptr+"/properties", Change{Kind: RemovedField, ObjectType: ot, Field: field},
				"object type %q: field %q was removed from the schema", ot, field)
			continue
		}
		d.property(ot, ptr+"/properties/"+escapePointer(name), field, asObject(oldProps[name]), asObject(np))
	}
	oldReq := map[string]bool{}
	for _, r := range required(old) {
		oldReq[r] = true
	}
	for _, r := range required(cur) {
		if !oldReq[r] {
			d.add(ptr+"/required", Change{Kind: NewRequiredField, ObjectType: ot, Field: path + r},
				"object type %q: field %q is now required", ot, path+r)
		}
	}
}

// property compares one property, then what it holds.
func (d *differ) property(ot, ptr, field string, old, cur map[string]any) {
	if was, now := typeOf(old), typeOf(cur); was != now {
		d.add(ptr, Change{Kind: ChangedType, ObjectType: ot, Field: field, Was: was, Now: now},
			"object type %q: field %q changed type from %s to %s", ot, field, was, now)
		return
	}
	d.schema(ot, ptr, field+".", old, cur, nil)
	if oi, ni := asObject(old["items"]), asObject(cur["items"]); oi != nil && ni != nil {
		d.property(ot, ptr+"/items", field+"[]", oi, ni)
	}
}

func props(s map[string]any) map[string]any {
	p, _ := s["properties"].(map[string]any)
	return p
}

func asObject(v any) map[string]any {
	o, _ := v.(map[string]any)
	return o
}

func required(s map[string]any) []string {
	list, _ := s["required"].([]any)
	var out []string
	for _, r := range list {
		if name, ok := r.(string); ok {
			out = append(out, name)
		}
	}
	return out
}

// typeOf renders a schema's "type": "string", "null|string" for a list
// (sorted), "any" when absent.
func typeOf(s map[string]any) string {
	switch t := s["type"].(type) {
	case string:
		return t
	case []any:
		names := make([]string, 0, len(t))
		for _, n := range t {
			names = append(names, fmt.Sprint(n))
		}
		return strings.Join(sortedUnique(names), "|")
	}
	return "any"
}

// escapePointer escapes a JSON pointer segment (RFC 6901).
func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func indexBy[T any](list []T, name func(T) string) map[string]int {
	out := make(map[string]int, len(list))
	for i, v := range list {
		out[name(v)] = i
	}
	return out
}
