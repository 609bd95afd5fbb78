package connector_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"maps"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/connectors-wasm/directory/connector"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
	"github.com/sluicehq/sluice/guest-sdk/sdk/sdktest"
)

var update = flag.Bool("update", false, "rewrite the discover-derived fields of ../connector.json")

const manifestPath = "../connector.json"

// TestManifestAgreesWithDiscover holds discover() and connector.json to
// the same id, version, types, scopes, streams, object types (schemas
// compared as JSON values) and edge types. With -update it rewrites
// those fields of connector.json from discover, keeping the others.
func TestManifestAgreesWithDiscover(t *testing.T) {
	d, err := sdktest.Run[protocol.DiscoverResponse](context.Background(), connector.New(), sdktest.New(sdktest.Config{}), protocol.ExportDiscover, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		writeManifest(t, raw, d)
		if raw, err = os.ReadFile(manifestPath); err != nil {
			t.Fatal(err)
		}
	}
	var m protocol.Manifest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("connector.json is not a protocol.Manifest: %v", err)
	}
	fromManifest := protocol.DiscoverResponse{
		ID: m.ID, Version: m.Version, Types: m.Types, Scopes: m.Scopes, Streams: m.Streams,
		ObjectTypes: m.ObjectTypes, EdgeTypes: m.EdgeTypes, Actions: m.Actions, Checks: m.Checks,
	}
	if got, want := normalize(t, d), normalize(t, fromManifest); !reflect.DeepEqual(got, want) {
		t.Fatalf("discover and connector.json disagree (run go test -update)\ndiscover: %v\nmanifest: %v", got, want)
	}
	if m.Auth.Kind != protocol.AuthOAuth2ClientCredentials || m.Auth.TokenURL != "{{config:base_url}}/oauth/token" || m.Level != "gold" {
		t.Fatalf("manifest auth/level changed: %+v %q", m.Auth, m.Level)
	}
	if m.RateLimit != (protocol.RateLimit{RequestsPerSecond: 50, Burst: 10}) || len(m.Hosts) != 2 {
		t.Fatalf("manifest hosts/rate limit changed: %+v %+v", m.Hosts, m.RateLimit)
	}
}

// normalize turns a value into generic JSON so that schemas compare by
// value, not by spelling.
func normalize(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func writeManifest(t *testing.T, raw []byte, d protocol.DiscoverResponse) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	set := func(key string, v any, keep bool) {
		if !keep {
			delete(m, key)
			return
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		m[key] = b
	}
	set("id", d.ID, true)
	set("version", d.Version, true)
	set("types", d.Types, true)
	set("scopes", d.Scopes, true)
	set("streams", d.Streams, len(d.Streams) > 0)
	set("object_types", d.ObjectTypes, len(d.ObjectTypes) > 0)
	set("edge_types", d.EdgeTypes, len(d.EdgeTypes) > 0)
	set("actions", d.Actions, len(d.Actions) > 0)
	set("checks", d.Checks, len(d.Checks) > 0)
	// Write the keys in the manifest's reading order, unknown ones last.
	order := []string{"id", "version", "name", "description", "level", "types", "scopes", "hosts", "auth",
		"streams", "object_types", "edge_types", "actions", "checks", "rate_limit", "retention_days"}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(order, k) {
			order = append(order, k)
		}
	}
	var buf bytes.Buffer
	buf.WriteString("{")
	for _, k := range order {
		v, ok := m[k]
		if !ok {
			continue
		}
		if buf.Len() > 1 {
			buf.WriteString(",")
		}
		key, _ := json.Marshal(k)
		buf.Write(key)
		buf.WriteString(":")
		buf.Write(v)
	}
	buf.WriteString("}")
	var out bytes.Buffer
	if err := json.Indent(&out, buf.Bytes(), "", "  "); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(manifestPath, append(out.Bytes(), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSchemasCoverRemoteFieldsAndPolicy(t *testing.T) {
	f, _ := newFakeRemote(t, 1, 1)
	d := connector.Discovery()
	served := map[string]map[string]any{connector.TypeUser: f.users[0], connector.TypeGroup: f.groups[0]}
	for _, ot := range d.ObjectTypes {
		var schema struct {
			Schema     string                     `json:"$schema"`
			Required   []string                   `json:"required"`
			Properties map[string]json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal(ot.Schema, &schema); err != nil {
			t.Fatalf("%s schema: %v", ot.Name, err)
		}
		if schema.Schema != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s schema dialect %q", ot.Name, schema.Schema)
		}
		for field := range served[ot.Name] {
			if _, ok := schema.Properties[field]; !ok {
				t.Errorf("%s: remote field %q missing from the schema", ot.Name, field)
			}
		}
		for field, p := range ot.Fields {
			if _, ok := schema.Properties[field]; !ok {
				t.Errorf("%s: allowed field %q not in the schema", ot.Name, field)
			}
			if !slices.Contains([]string{protocol.PIINone, protocol.PIIContact, protocol.PIIIdentifier, protocol.PIISensitive, protocol.PIICredential}, p.PII) {
				t.Errorf("%s.%s: unknown PII class %q", ot.Name, field, p.PII)
			}
		}
		for _, field := range schema.Required {
			if _, ok := ot.Fields[field]; !ok {
				t.Errorf("%s: required field %q would be dropped by the allow-list", ot.Name, field)
			}
		}
	}
	user := d.ObjectTypes[0]
	if _, allowed := user.Fields["phone"]; allowed {
		t.Error("phone must stay out of the user allow-list so the host drops it")
	}
	if user.Fields["email"].PII != protocol.PIIContact || user.Fields["name"].PII != protocol.PIIIdentifier {
		t.Errorf("user PII classes: %+v", user.Fields)
	}
}

func TestAuthorize(t *testing.T) {
	_, base := newFakeRemote(t, 1, 1)
	tests := []struct {
		name    string
		token   string
		granted []string
		want    protocol.AuthorizeResponse
		errType string
	}{
		{"all granted", "test-token", []string{"groups:read", "users:read", "other"}, protocol.AuthorizeResponse{AccountID: "acct-42", NeededScopes: []string{"users:read", "groups:read"}}, ""},
		{"users only", "test-token", []string{"users:read"}, protocol.AuthorizeResponse{AccountID: "acct-42", NeededScopes: []string{"users:read"}}, ""},
		{"none granted", "test-token", nil, protocol.AuthorizeResponse{AccountID: "acct-42", NeededScopes: []string{}}, ""},
		{"bad credential", "wrong", nil, protocol.AuthorizeResponse{}, sdk.ErrorTypeUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := sdktest.New(sdktest.Config{Token: tt.token})
			req := protocol.AuthorizeRequest{GrantedScopes: tt.granted, Config: protocol.Config{connector.ConfigBaseURL: base}}
			got, err := sdktest.Run[protocol.AuthorizeResponse](context.Background(), connector.New(), tr, protocol.ExportAuthorize, req)
			if tt.errType != "" {
				if sdk.ErrorResponseOf(err).Type != tt.errType {
					t.Fatalf("err %v (type %q), want type %q", err, sdk.ErrorResponseOf(err).Type, tt.errType)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
			if reqs := tr.Requests(); len(reqs) != 1 || reqs[0].Auth != "default" || reqs[0].Method != "GET" {
				t.Fatalf("requests %+v: want one GET with the default credential", reqs)
			}
		})
	}
}

func TestHealth(t *testing.T) {
	f, base := newFakeRemote(t, 1, 1)
	tests := []struct {
		name    string
		base    string
		status  int
		want    bool
		wantErr error
	}{
		{"ok", base, 0, true, nil},
		{"remote down", base, 503, false, nil},
		{"no base_url", "", 0, false, connector.ErrConfig},
		{"unreachable", "http://127.0.0.1:1", 0, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.set(func(f *fakeRemote) { f.status = tt.status })
			req := protocol.HealthRequest{Config: protocol.Config{}}
			if tt.base != "" {
				req.Config[connector.ConfigBaseURL] = tt.base
			}
			got, err := sdktest.Run[protocol.HealthResponse](context.Background(), connector.New(), sdktest.New(sdktest.Config{}), protocol.ExportHealth, req)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if got.Reachable != tt.want || (err == nil && len(got.Details) == 0) {
				t.Fatalf("health %+v, want reachable=%v with details", got, tt.want)
			}
		})
	}
}
