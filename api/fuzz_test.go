package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// Every JSON request body goes through decodeJSON (and, where it has
// one, its validate method). The fuzz targets check that no input
// panics, that every refusal is a problem naming a field, and that an
// accepted value survives a round trip.

// checkDecoded is the shared assertion of the targets below.
func checkDecoded[T any](t *testing.T, body []byte, optional bool, validate func(T) error) {
	var v T
	err := decodeJSON(body, &v, optional)
	if err == nil && validate != nil {
		err = validate(v)
	}
	if err != nil {
		p := classify(err)
		if p.Status < 400 || p.Status >= 500 {
			t.Fatalf("refusal %v has status %d", err, p.Status)
		}
		if len(p.Fields) == 0 || p.Fields[0].Field == "" || p.Fields[0].Message == "" {
			t.Fatalf("refusal %v names no field", err)
		}
		if !strings.HasPrefix(p.Fields[0].Field, "body") && p.Fields[0].Field != "header.Content-Type" {
			t.Fatalf("refusal of a body names %q", p.Fields[0].Field)
		}
		return
	}
	// Accepted: the value re-encodes and decodes to itself. (Secret
	// values encode redacted, so compare the redacted forms.)
	b1, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("re-encode %+v: %v", v, err)
	}
	var again T
	if err := json.Unmarshal(b1, &again); err != nil {
		t.Fatalf("decode re-encoded %s: %v", b1, err)
	}
	b2, _ := json.Marshal(again)
	if string(b1) != string(b2) {
		t.Fatalf("round trip changed %s to %s", b1, b2)
	}
}

func seeds(f *testing.F, bodies ...string) {
	for _, b := range append(bodies, ``, `{}`, `null`, `[]`, `{"a":1}`, `{} {}`, `{"x":`, "\xff", `{"role":"a","role":"b"}`) {
		f.Add([]byte(b))
	}
}

func FuzzAPIKeyRequest(f *testing.F) {
	seeds(f, `{"role":"partner","partner":"p1","name":"ci"}`, `{"role":7}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecoded[KeyRequest](t, body, false, func(r KeyRequest) error {
			if r.Role == "" {
				return invalidField("body.role", "is required")
			}
			return nil
		})
	})
}

func FuzzAPIConnectionRequest(f *testing.F) {
	seeds(f, `{"connector":"directory","version":"1.0.0","scopes":["users:read",""],"config":{"base_url":"x"},"credentials":{"api_key":"s"},"interval_seconds":60}`,
		`{"interval_seconds":1e99}`, `{"credentials":{"":""}}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecoded[ConnectionRequest](t, body, false, ConnectionRequest.validate)
	})
}

func FuzzAPISyncRequest(f *testing.F) {
	seeds(f, `{"full":true}`, `{"full":"yes"}`, ` `)
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecoded[SyncRequest](t, body, true, nil)
	})
}

func FuzzAPIBackfillRequest(f *testing.F) {
	seeds(f, `{"from":"2024-01-01T00:00:00Z","to":"2024-02-01T00:00:00Z"}`, `{"from":"2024-02-01T00:00:00+01:00","to":"2024-01-01T00:00:00Z"}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecoded[BackfillRequest](t, body, false, BackfillRequest.validate)
	})
}

func FuzzAPISecretRequest(f *testing.F) {
	seeds(f, `{"value":"s3cr3t"}`, `{"value":""}`, `{"value":null}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		var v SecretRequest
		err := decodeJSON(body, &v, false)
		if err != nil {
			if p := classify(err); p.Status != 400 || len(p.Fields) == 0 {
				t.Fatalf("refusal %v: %d %v", err, p.Status, p.Fields)
			}
			return
		}
		// However it decodes, the value never encodes.
		b, _ := json.Marshal(v)
		if v.Value != "" && v.Value != redacted && strings.Contains(string(b), string(v.Value)) {
			t.Fatalf("secret %q encoded as %s", v.Value, b)
		}
	})
}

// FuzzAPIKeyParse: the Authorization header is outside input.
func FuzzAPIKeyParse(f *testing.F) {
	f.Add("sk_0123456789abcdef_" + strings.Repeat("A", keySecretLen))
	f.Add("sk_")
	f.Add("")
	f.Fuzz(func(t *testing.T, key string) {
		id, ok := parseKey(key)
		if !ok {
			return
		}
		if len(key) != keyLen || !strings.HasPrefix(key, keyPrefix+id+"_") || len(id) != keyIDLen {
			t.Fatalf("parseKey(%q) accepted id %q", key, id)
		}
	})
}

// The problem mapping never loses a status to a wrapped error.
func TestClassifyWrapped(t *testing.T) {
	err := errors.Join(errors.New("context"), &ValidationError{Errors: []FieldError{{Field: "body.x", Message: "bad"}}})
	if p := classify(err); p.Status != 422 || p.Fields[0].Field != "body.x" {
		t.Errorf("classify(joined) = %+v", p)
	}
}

func FuzzAPIConnectionUpdate(f *testing.F) {
	seeds(f, `{"scopes":["users:read"],"config":{"a":"b"},"interval_seconds":600,"persistent_indexing":false}`,
		`{"interval_seconds":-1}`, `{"interval_seconds":99999999999}`, `{"scopes":[""]}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecoded[ConnectionUpdate](t, body, false, ConnectionUpdate.validate)
	})
}

// Secret values never show: not in fmt verbs, slog or JSON.
func TestSecretsRedacted(t *testing.T) {
	req := ConnectionRequest{Connector: "d", Credentials: SecretValues{"api_key": "s3cr3t-1"}}
	sec := SecretRequest{Value: "s3cr3t-2"}
	var logged strings.Builder
	log := slog.New(slog.NewJSONHandler(&logged, nil))
	log.Info("req", "req", req, "creds", req.Credentials, "secret", sec.Value)
	b1, _ := json.Marshal(req)
	b2, _ := json.Marshal(sec)
	for _, out := range []string{
		fmt.Sprintf("%v %+v %#v %s", req, req, req, req.Credentials),
		fmt.Sprintf("%v %+v %#v %s", sec, sec, sec, sec.Value),
		logged.String(), string(b1), string(b2),
	} {
		if strings.Contains(out, "s3cr3t") {
			t.Errorf("a secret shows in %s", out)
		}
	}
	if !strings.Contains(string(b1), `"api_key":"[redacted]"`) {
		t.Errorf("credential names should stay visible: %s", b1)
	}
}
