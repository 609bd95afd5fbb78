package registry

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/Masterminds/semver/v3"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/store"
)

// base is a manifest with one of everything diffManifests compares.
func base() *protocol.Manifest {
	return &protocol.Manifest{
		ID: "crm", Version: "1.0.0",
		ObjectTypes: []protocol.ObjectType{{
			Name: "contact",
			Schema: json.RawMessage(`{"type":"object","required":["id"],"properties":{
				"id":{"type":"string"},
				"email":{"type":"string"},
				"age":{"type":"integer"},
				"address":{"type":"object","properties":{"city":{"type":"string"},"zip":{"type":"string"}}},
				"tags":{"type":"array","items":{"type":"string"}}}}`),
			Fields: map[string]protocol.FieldPolicy{"id": {PII: "identifier"}, "email": {PII: "contact"}, "address": {PII: "contact"}, "tags": {PII: "none"}},
		}, {
			Name: "company", Schema: json.RawMessage(`{"type":"object","properties":{"id":{"type":"string"}}}`),
			Fields: map[string]protocol.FieldPolicy{"id": {PII: "none"}},
		}},
		EdgeTypes: []protocol.EdgeType{{Name: "works_at", From: "contact", To: "company"}},
		Streams:   []protocol.Stream{{Name: "contacts", ObjectTypes: []string{"contact"}}, {Name: "companies", ObjectTypes: []string{"company"}}},
		Actions:   []protocol.Action{{Name: "tag_contact"}},
		Checks:    []protocol.Check{{Name: "mfa_enforced", Control: "CC6.1"}},
	}
}

func clone(t *testing.T, m *protocol.Manifest) *protocol.Manifest {
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out protocol.Manifest
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func setSchema(m *protocol.Manifest, i int, schema string) {
	m.ObjectTypes[i].Schema = json.RawMessage(schema)
}

func TestDiffManifests(t *testing.T) {
	const contact = `{"type":"object","required":["id"],"properties":{
		"id":{"type":"string"},"email":{"type":"string"},"age":{"type":"integer"},
		"address":{"type":"object","properties":{"city":{"type":"string"},"zip":{"type":"string"}}},
		"tags":{"type":"array","items":{"type":"string"}}}}`
	tests := []struct {
		name string
		edit func(m *protocol.Manifest)
		want []Change // Against and Message are not compared
		ptrs []string
	}{
		{"identical", func(m *protocol.Manifest) {}, nil, nil},
		{"reordered keys and a new optional field", func(m *protocol.Manifest) {
			setSchema(m, 0, `{"properties":{"tags":{"items":{"type":"string"},"type":"array"},"age":{"type":"integer"},
				"address":{"properties":{"zip":{"type":"string"},"city":{"type":"string"}},"type":"object"},
				"email":{"type":"string"},"id":{"type":"string"},"nickname":{"type":"string"}},"required":["id"],"type":"object"}`)
			m.ObjectTypes[0].Fields["nickname"] = protocol.FieldPolicy{PII: "identifier"}
			m.Streams = append(m.Streams, protocol.Stream{Name: "more"})
		}, nil, nil},
		{"a field no longer required", func(m *protocol.Manifest) {
			setSchema(m, 0, `{"type":"object","properties":{"id":{"type":"string"},"email":{"type":"string"},"age":{"type":"integer"},
				"address":{"type":"object","properties":{"city":{"type":"string"},"zip":{"type":"string"}}},"tags":{"type":"array","items":{"type":"string"}}}}`)
		}, nil, nil},
		{"removed from schema and allow-list is one change", func(m *protocol.Manifest) {
			setSchema(m, 0, `{"type":"object","required":["id"],"properties":{"id":{"type":"string"},"age":{"type":"integer"},
				"address":{"type":"object","properties":{"city":{"type":"string"},"zip":{"type":"string"}}},"tags":{"type":"array","items":{"type":"string"}}}}`)
			delete(m.ObjectTypes[0].Fields, "email")
		}, []Change{{Kind: RemovedField, ObjectType: "contact", Field: "email"}}, []string{"object_types/0/schema/properties"}},
		{"nested field removed and nested type changed", func(m *protocol.Manifest) {
			setSchema(m, 0, `{"type":"object","required":["id"],"properties":{"id":{"type":"string"},"email":{"type":"string"},"age":{"type":"integer"},
				"address":{"type":"object","properties":{"zip":{"type":"integer"}}},"tags":{"type":"array","items":{"type":"string"}}}}`)
		}, []Change{
			{Kind: RemovedField, ObjectType: "contact", Field: "address.city"},
			{Kind: ChangedType, ObjectType: "contact", Field: "address.zip", Was: "string", Now: "integer"},
		}, []string{"object_types/0/schema/properties/address/properties", "object_types/0/schema/properties/address/properties/zip"}},
		{"array items and a widened type", func(m *protocol.Manifest) {
			setSchema(m, 0, `{"type":"object","required":["id"],"properties":{"id":{"type":"string"},"email":{"type":["null","string"]},"age":{"type":"integer"},
				"address":{"type":"object","properties":{"city":{"type":"string"},"zip":{"type":"string"}}},"tags":{"type":"array","items":{"type":"object"}}}}`)
		}, []Change{
			{Kind: ChangedType, ObjectType: "contact", Field: "email", Was: "string", Now: "null|string"},
			{Kind: ChangedType, ObjectType: "contact", Field: "tags[]", Was: "string", Now: "object"},
		}, []string{"object_types/0/schema/properties/email", "object_types/0/schema/properties/tags/items"}},
		{"a nested field newly required", func(m *protocol.Manifest) {
			setSchema(m, 0, `{"type":"object","required":["id"],"properties":{"id":{"type":"string"},"email":{"type":"string"},"age":{"type":"integer"},
				"address":{"type":"object","required":["zip"],"properties":{"city":{"type":"string"},"zip":{"type":"string"}}},"tags":{"type":"array","items":{"type":"string"}}}}`)
		}, []Change{{Kind: NewRequiredField, ObjectType: "contact", Field: "address.zip"}},
			[]string{"object_types/0/schema/properties/address/required"}},
		{"a type no longer declared", func(m *protocol.Manifest) {
			setSchema(m, 0, `{"type":"object","required":["id"],"properties":{"id":{"type":"string"},"email":{"type":"string"},"age":{},
				"address":{"type":"object","properties":{"city":{"type":"string"},"zip":{"type":"string"}}},"tags":{"type":"array","items":{"type":"string"}}}}`)
		}, []Change{{Kind: ChangedType, ObjectType: "contact", Field: "age", Was: "integer", Now: "any"}}, []string{"object_types/0/schema/properties/age"}},
		{"edge ends, action and check", func(m *protocol.Manifest) {
			m.EdgeTypes[0].To = "contact"
			m.Actions, m.Checks = nil, nil
		}, []Change{
			{Kind: ChangedEdgeType, EdgeType: "works_at", Was: "contact->company", Now: "contact->contact"},
			{Kind: RemovedAction, Action: "tag_contact"},
			{Kind: RemovedCheck, Check: "mfa_enforced"},
		}, []string{"edge_types/0", "actions", "checks"}},
		{"removed object type with its stream and edge", func(m *protocol.Manifest) {
			m.ObjectTypes, m.Streams, m.EdgeTypes = m.ObjectTypes[:1], m.Streams[:1], nil
		}, []Change{
			{Kind: RemovedObjectType, ObjectType: "company"},
			{Kind: RemovedStream, Stream: "companies"},
			{Kind: RemovedEdgeType, EdgeType: "works_at"},
		}, []string{"object_types", "streams", "edge_types"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := base()
			setSchema(b, 0, contact)
			m := clone(t, b)
			tc.edit(m)
			got := diffManifests(&release{v: semver.MustParse("1.0.0"), m: b}, m)
			var kinds []Change
			var ptrs []string
			for _, c := range got {
				if c.Against != "1.0.0" || c.Message == "" {
					t.Errorf("change %+v lacks Against or Message", c)
				}
				c.Against, c.Message = "", ""
				kinds = append(kinds, c.Change)
				ptrs = append(ptrs, c.pointer)
			}
			if !slices.Equal(kinds, tc.want) {
				t.Errorf("changes:\n got %+v\nwant %+v", kinds, tc.want)
			}
			if !slices.Equal(ptrs, tc.ptrs) {
				t.Errorf("pointers = %q, want %q", ptrs, tc.ptrs)
			}
		})
	}
}

func stored(t *testing.T, m *protocol.Manifest, version string) store.RegistryVersion {
	m = clone(t, m)
	m.Version = version
	b, _ := json.Marshal(m)
	return store.RegistryVersion{Connector: m.ID, Version: version, Manifest: b}
}

func TestCheckCompat(t *testing.T) {
	b := base()
	dropCompany := func(m *protocol.Manifest) {
		m.ObjectTypes, m.Streams, m.EdgeTypes = m.ObjectTypes[:1], m.Streams[:1], nil
	}
	tests := []struct {
		name      string
		stored    []string
		version   string
		edit      func(m *protocol.Manifest)
		migration string
		want      string // code, "" for accepted
	}{
		{"first version may be anything", nil, "1.0.0", dropCompany, "", ""},
		{"compatible patch", []string{"1.0.0"}, "1.0.1", nil, "", ""},
		{"breaking patch", []string{"1.0.0"}, "1.0.1", dropCompany, "", CodeBreakingChange},
		{"breaking pre-release of a minor", []string{"1.0.0"}, "1.1.0-rc.1", dropCompany, "", CodeBreakingChange},
		{"a pre-release is no base", []string{"1.0.0-rc.1"}, "1.0.0", dropCompany, "", ""},
		{"the base is the highest earlier release of the major", []string{"1.0.0", "1.2.0", "2.0.0"}, "1.1.0", dropCompany, "", CodeBreakingChange},
		{"major without breaking needs no migration", []string{"1.0.0"}, "2.0.0", nil, "", ""},
		{"breaking major needs a migration", []string{"1.0.0", "1.3.0"}, "2.0.0", dropCompany, "", CodeMigrationRequired},
		{"breaking pre-release of a major needs one too", []string{"1.0.0"}, "2.0.0-beta.1", dropCompany, "", CodeMigrationRequired},
		{"migration from the major", []string{"1.0.0"}, "2.0.0", dropCompany, "1", ""},
		{"migration from v1.x", []string{"1.0.0"}, "2.0.0", dropCompany, "v1.x", ""},
		{"migration from a version", []string{"1.4.2"}, "2.0.0", dropCompany, "1.4.2", ""},
		{"migration from the wrong major", []string{"1.0.0"}, "3.0.0", dropCompany, "2", CodeInvalidMigration},
		{"migration from nonsense", []string{"1.0.0"}, "2.0.0", nil, "latest", CodeInvalidMigration},
		{"major after a gap follows the highest earlier major", []string{"1.0.0", "3.1.0"}, "5.0.0", dropCompany, "3", ""},
		{"back-port that a later minor breaks", []string{"1.0.0", "1.1.0"}, "1.0.1", func(m *protocol.Manifest) {
			m.Checks = append(m.Checks, protocol.Check{Name: "extra", Control: "CC1"})
		}, "", CodeBreakingChange},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var recs []store.RegistryVersion
			for _, v := range tc.stored {
				recs = append(recs, stored(t, b, v))
			}
			m := clone(t, b)
			m.Version = tc.version
			if tc.edit != nil {
				tc.edit(m)
			}
			if tc.migration != "" {
				m.Migration = &protocol.Migration{From: tc.migration, Notes: "n"}
			}
			err := checkCompat(semver.MustParse(tc.version), m, recs)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != tc.want || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want code %s", err, tc.want)
			}
			if tc.want != CodeInvalidMigration && (len(e.BreakingChanges) == 0 || len(e.BreakingChanges) != len(e.Errors)) {
				t.Errorf("%d breaking changes, %d field errors", len(e.BreakingChanges), len(e.Errors))
			}
		})
	}
}

func TestAgree(t *testing.T) {
	m := base()
	m.Types = []string{"ingest_pull", "action"}
	m.Scopes = []protocol.Scope{{Name: "contacts:read", Reason: "read contacts"}}
	m.Actions[0].Params = json.RawMessage(`{"type":"object","properties":{"tag":{"type":"string"}}}`)
	discovered := func(edit func(d *protocol.DiscoverResponse)) protocol.DiscoverResponse {
		c := clone(t, m)
		d := protocol.DiscoverResponse{ID: c.ID, Version: c.Version, Types: c.Types, Scopes: c.Scopes, Streams: c.Streams,
			ObjectTypes: c.ObjectTypes, EdgeTypes: c.EdgeTypes, Actions: c.Actions, Checks: c.Checks}
		if edit != nil {
			edit(&d)
		}
		return d
	}
	tests := []struct {
		name   string
		edit   func(d *protocol.DiscoverResponse)
		fields []string
	}{
		{"same", nil, nil},
		{"same in another order and spelling", func(d *protocol.DiscoverResponse) {
			d.Types = []string{"action", "ingest_pull", "action"}
			slices.Reverse(d.ObjectTypes)
			d.ObjectTypes[1].Schema = json.RawMessage(` { "properties" : {"tags":{"items":{"type":"string"},"type":"array"},"address":{"type":"object","properties":{"zip":{"type":"string"},"city":{"type":"string"}}},"age":{"type":"integer"},"email":{"type":"string"},"id":{"type":"string"}}, "required":["id"], "type":"object"}`)
			d.Capabilities = []string{"anything"}
		}, nil},
		{"id, version and types", func(d *protocol.DiscoverResponse) {
			d.ID, d.Version, d.Types = "other", "1.0.1", []string{"ingest_pull"}
		}, []string{"connector.json#/id", "connector.json#/version", "connector.json#/types"}},
		{"scopes", func(d *protocol.DiscoverResponse) {
			d.Scopes = []protocol.Scope{{Name: "contacts:read", Reason: "other"}, {Name: "admin", Reason: "x"}}
		}, []string{"connector.json#/scopes/0/reason", "connector.json#/scopes"}},
		{"streams", func(d *protocol.DiscoverResponse) {
			d.Streams = d.Streams[:1]
			d.Streams[0].Backfill = true
			d.Streams[0].Scopes = []string{"contacts:read"}
		}, []string{"connector.json#/streams/0/scopes", "connector.json#/streams/0/backfill", "connector.json#/streams/1"}},
		{"object types", func(d *protocol.DiscoverResponse) {
			d.ObjectTypes[0].Schema = json.RawMessage(`{"type":"object"}`)
			d.ObjectTypes[0].Fields = map[string]protocol.FieldPolicy{"id": {PII: "none"}, "email": {PII: "contact"}, "address": {PII: "contact"}, "phone": {PII: "contact"}}
			d.ObjectTypes = append(d.ObjectTypes, protocol.ObjectType{Name: "deal"})
		}, []string{"connector.json#/object_types/0/schema", "connector.json#/object_types/0/fields/id/pii",
			"connector.json#/object_types/0/fields/tags", "connector.json#/object_types/0/fields", "connector.json#/object_types"}},
		{"edge types", func(d *protocol.DiscoverResponse) {
			d.EdgeTypes[0].From = "company"
		}, []string{"connector.json#/edge_types/0/from"}},
		{"actions and checks", func(d *protocol.DiscoverResponse) {
			d.Actions[0].Destructive = true
			d.Actions[0].Params = nil
			d.Actions[0].Inverse = "untag"
			d.Checks[0].Control = "CC7.2"
			d.Checks[0].Scopes = []string{"contacts:read"}
		}, []string{"connector.json#/actions/0/destructive", "connector.json#/actions/0/params", "connector.json#/actions/0/inverse",
			"connector.json#/checks/0/control", "connector.json#/checks/0/scopes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, fe := range agree(m, discovered(tc.edit)) {
				if fe.Code != CodeDiscoverMismatch || fe.Message == "" {
					t.Errorf("field error %+v", fe)
				}
				got = append(got, fe.Field)
			}
			if !slices.Equal(got, tc.fields) {
				t.Errorf("disagreements at\n %q\nwant\n %q", got, tc.fields)
			}
		})
	}
}

func TestLatest(t *testing.T) {
	tests := []struct{ a, b, want string }{
		{"1.0.0", "1.1.0", "1.1.0"},
		{"1.1.0", "1.0.9", "1.1.0"},
		{"1.0.0", "2.0.0-rc.1", "1.0.0"},
		{"2.0.0-rc.1", "2.0.0-rc.2", "2.0.0-rc.2"},
		{"2.0.0-rc.2", "2.0.0", "2.0.0"},
	}
	for _, tc := range tests {
		if got := latest(tc.a, tc.b); got != tc.want {
			t.Errorf("latest(%s, %s) = %s, want %s", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestCleanPath(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"module.wasm", "module.wasm", true},
		{"./module.wasm", "module.wasm", true},
		{"./", "", true},
		{".", "", true},
		{"runbooks/", "runbooks", true},
		{"runbooks/a.md", "runbooks/a.md", true},
		{"runbooks/..md", "runbooks/..md", true},
		{"../a", "", false},
		{"a/../b", "", false},
		{"a/./b", "", false},
		{"a//b", "", false},
		{"/a", "", false},
		{".//a", "", false},
		{`a\b`, "", false},
		{"a\x00b", "", false},
		{"c:a", "", false},
	}
	for _, tc := range tests {
		got, fe := cleanPath(tc.in)
		if got != tc.want || (fe == nil) != tc.ok {
			t.Errorf("cleanPath(%q) = %q, %v; want %q, ok=%v", tc.in, got, fe, tc.want, tc.ok)
		}
	}
}
