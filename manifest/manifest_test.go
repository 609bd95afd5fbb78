package manifest_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/manifest"
)

func valid(t testing.TB) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/valid.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestParseValid(t *testing.T) {
	b, _ := os.ReadFile("testdata/valid.json")
	m, err := manifest.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "acme-crm" || m.Version != "1.2.3" || len(m.ObjectTypes) != 1 || m.ObjectTypes[0].Fields["email"].PII != "contact" {
		t.Fatalf("parsed manifest = %+v", m)
	}
}

func TestParseRejects(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(m map[string]any)
		field string
	}{
		{"missing id", func(m map[string]any) { delete(m, "id") }, ""},
		{"bad version", func(m map[string]any) { m["version"] = "one.two" }, "version"},
		{"unknown field", func(m map[string]any) { m["colour"] = "blue" }, ""},
		{"scope without reason", func(m map[string]any) {
			m["scopes"] = []any{map[string]any{"name": "x", "reason": ""}}
		}, "scopes/0/reason"},
		{"wildcard host", func(m map[string]any) {
			m["hosts"] = []any{map[string]any{"host": "*.acme.test", "methods": []any{"GET"}}}
		}, "hosts/0/host"},
		{"host with scheme", func(m map[string]any) {
			m["hosts"] = []any{map[string]any{"host": "https://acme.test", "methods": []any{"GET"}}}
		}, "hosts/0/host"},
		{"bad method", func(m map[string]any) {
			m["hosts"] = []any{map[string]any{"host": "acme.test", "methods": []any{"TRACE"}}}
		}, "hosts/0/methods/0"},
		{"stream names undeclared type", func(m map[string]any) {
			m["streams"] = []any{map[string]any{"name": "contacts", "object_types": []any{"lead"}}}
		}, "streams/0/object_types/0"},
		{"stream needs undeclared scope", func(m map[string]any) {
			m["streams"] = []any{map[string]any{"name": "contacts", "object_types": []any{"contact"}, "scopes": []any{"admin"}}}
		}, "streams/0/scopes/0"},
		{"schema does not compile", func(m map[string]any) {
			ot := m["object_types"].([]any)[0].(map[string]any)
			ot["schema"] = map[string]any{"type": 12}
		}, "object_types/0/schema"},
		{"bad pii class", func(m map[string]any) {
			ot := m["object_types"].([]any)[0].(map[string]any)
			ot["fields"] = map[string]any{"email": map[string]any{"pii": "secret-ish"}}
		}, "object_types/0/fields/email/pii"},
		{"edge to undeclared type", func(m map[string]any) {
			m["edge_types"] = []any{map[string]any{"name": "owns", "from": "contact", "to": "account"}}
		}, "edge_types/0/to"},
		{"ingest without streams", func(m map[string]any) { delete(m, "streams") }, "streams"},
		{"runbook outside runbooks/", func(m map[string]any) {
			m["runbooks"] = []any{map[string]any{"error_type": "rate_limited", "path": "../etc/passwd"}}
		}, "runbooks/0/path"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := valid(t)
			tc.edit(m)
			b, _ := json.Marshal(m)
			_, err := manifest.Parse(b)
			if !errors.Is(err, manifest.ErrInvalid) {
				t.Fatalf("Parse = %v, want ErrInvalid", err)
			}
			var ve *manifest.ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("want a ValidationError listing problems, got %v", err)
			}
			if tc.field != "" {
				found := false
				for _, p := range ve.Problems {
					if p.Field == tc.field {
						found = true
					}
				}
				if !found {
					t.Fatalf("problems %v do not name field %q", ve.Problems, tc.field)
				}
			}
		})
	}
}

func TestParseRejectsOversizeAndNonJSON(t *testing.T) {
	if _, err := manifest.Parse([]byte("{not json")); !errors.Is(err, manifest.ErrInvalid) {
		t.Fatalf("non-JSON: %v", err)
	}
	big := []byte(`{"id":"` + strings.Repeat("a", manifest.MaxSize) + `"}`)
	if _, err := manifest.Parse(big); !errors.Is(err, manifest.ErrInvalid) {
		t.Fatalf("oversize: %v", err)
	}
}

func TestSchemaIsPublishedJSON(t *testing.T) {
	var v map[string]any
	if err := json.Unmarshal(manifest.Schema, &v); err != nil {
		t.Fatal(err)
	}
	if v["$id"] != manifest.SchemaURL {
		t.Fatalf("$id = %v", v["$id"])
	}
}

func FuzzParse(f *testing.F) {
	b, _ := os.ReadFile("testdata/valid.json")
	f.Add(b)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"a","version":"1.0.0","types":["verify"],"scopes":[],"hosts":[],"auth":{"kind":"none"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := manifest.Parse(data)
		if err == nil && (m == nil || m.ID == "") {
			t.Fatalf("Parse accepted %q without an id", data)
		}
		if err != nil && !errors.Is(err, manifest.ErrInvalid) && !strings.Contains(err.Error(), "schema") {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}

func ExampleParse() {
	_, err := manifest.Parse([]byte(`{"id":"acme","version":"1.0.0.0","types":["ingest_pull"],"scopes":[],"hosts":[],"auth":{"kind":"none"}}`))
	var ve *manifest.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			fmt.Println(p.Field)
		}
	}
	// Output:
	// version
	// streams
}
