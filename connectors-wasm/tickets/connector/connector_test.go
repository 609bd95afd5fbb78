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

	"github.com/sluicehq/sluice/connectors-wasm/tickets/connector"
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
	if m.Auth.Kind != protocol.AuthOAuth2ClientCredentials || m.Auth.TokenURL != "{{config:base_url}}/oauth/token" || m.Level != "bronze" {
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

// The sandbox tests (conformance/sandbox/tickets_connector_test.go) run
// the connector against the real remote; these cover what needs none.
func TestWebhookRefusesForeignEvents(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"unknown type", `{"id":"evt_1","type":"user.updated","occurred_at":"2026-01-01T00:00:00Z","data":{}}`, connector.ErrorTypeUnsupportedEvent},
		{"no id", `{"type":"ticket.updated","occurred_at":"2026-01-01T00:00:00Z","data":{}}`, connector.ErrorTypeBadEvent},
		{"bad time", `{"id":"evt_1","type":"ticket.updated","occurred_at":"yesterday","data":{}}`, connector.ErrorTypeBadEvent},
		{"ticket without id", `{"id":"evt_1","type":"ticket.created","occurred_at":"2026-01-01T00:00:00Z","data":{"updated_at":"2026-01-01T00:00:00Z"}}`, connector.ErrorTypeBadEvent},
		{"ticket without updated_at", `{"id":"evt_1","type":"ticket.updated","occurred_at":"2026-01-01T00:00:00Z","data":{"id":"t-000001"}}`, connector.ErrorTypeBadEvent},
		{"comment without ticket", `{"id":"evt_1","type":"comment.created","occurred_at":"2026-01-01T00:00:00Z","data":{"id":"c-1","updated_at":"2026-01-01T00:00:00Z"}}`, connector.ErrorTypeBadEvent},
		{"data not an object", `{"id":"evt_1","type":"ticket.created","occurred_at":"2026-01-01T00:00:00Z","data":[1]}`, connector.ErrorTypeBadEvent},
		{"not an object", `[1]`, connector.ErrorTypeBadEvent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := sdktest.New(sdktest.Config{})
			_, err := sdktest.Run[protocol.WebhookResponse](context.Background(), connector.New(), tr, protocol.ExportWebhook,
				protocol.WebhookRequest{Body: json.RawMessage(tc.body)})
			if got := sdk.ErrorResponseOf(err).Type; got != tc.want {
				t.Errorf("err %v (type %q), want %q", err, got, tc.want)
			}
			if len(tr.Objects())+len(tr.Edges()) != 0 {
				t.Errorf("a refused event emitted %d objects, %d edges", len(tr.Objects()), len(tr.Edges()))
			}
		})
	}
}

func TestSyncRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  protocol.SyncRequest
		want error
	}{
		{"no base_url", protocol.SyncRequest{Stream: connector.StreamTickets}, connector.ErrConfig},
		{"relative base_url", protocol.SyncRequest{Stream: connector.StreamTickets, Config: protocol.Config{connector.ConfigBaseURL: "example.test"}}, connector.ErrConfig},
		{"unknown stream", protocol.SyncRequest{Stream: "users", Config: protocol.Config{connector.ConfigBaseURL: "http://127.0.0.1:1"}}, connector.ErrUnknownStream},
		{"foreign cursor", protocol.SyncRequest{Stream: connector.StreamTickets, Cursor: "page-2", Config: protocol.Config{connector.ConfigBaseURL: "http://127.0.0.1:1"}}, connector.ErrBadCursor},
		{"bad since", protocol.SyncRequest{Stream: connector.StreamComments, Cursor: `{"since":"yesterday"}`, Config: protocol.Config{connector.ConfigBaseURL: "http://127.0.0.1:1"}}, connector.ErrBadCursor},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := sdktest.New(sdktest.Config{})
			_, err := sdktest.Run[protocol.SyncResponse](context.Background(), connector.New(), tr, protocol.ExportSync, tc.req)
			if !errors.Is(err, tc.want) {
				t.Errorf("err %v, want %v", err, tc.want)
			}
			if len(tr.Requests()) != 0 {
				t.Errorf("bad input reached the network: %+v", tr.Requests())
			}
		})
	}
}

// An ingest-only connector: the exports it does not define answer
// "unsupported", so the host can never run an action or a check.
func TestIngestOnly(t *testing.T) {
	d := connector.Discovery()
	if len(d.Actions)+len(d.Checks) != 0 || !slices.Equal(d.Types, []string{protocol.TypeIngestPull, protocol.TypeIngestPush}) {
		t.Fatalf("discover: types %v, %d actions, %d checks", d.Types, len(d.Actions), len(d.Checks))
	}
	for _, s := range d.Streams {
		if s.Backfill {
			t.Errorf("stream %s declares backfill", s.Name)
		}
	}
	for _, export := range []string{protocol.ExportExecute, protocol.ExportVerify, protocol.ExportBackfill} {
		_, err := sdktest.Run[json.RawMessage](context.Background(), connector.New(), sdktest.New(sdktest.Config{}), export, map[string]any{})
		if got := sdk.ErrorResponseOf(err).Type; got != sdk.ErrorTypeUnsupported {
			t.Errorf("%s: %v (type %q), want unsupported", export, err, got)
		}
	}
}
