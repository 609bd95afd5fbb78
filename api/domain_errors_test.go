package api

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/connections"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/scheduler"
	"github.com/sluicehq/sluice/secrets"
	"github.com/sluicehq/sluice/store"
)

// TestClassify pins the status and field every backend error maps to,
// as the domain packages document them.
func TestClassify(t *testing.T) {
	regErr := func(kind error, field string) error {
		return fmt.Errorf("upload: %w", &registry.Error{Kind: kind, Message: "refused", Errors: []registry.FieldError{{Field: field, Message: "because"}}})
	}
	tests := []struct {
		name   string
		err    error
		status int
		field  string
	}{
		{"registry bad bundle", regErr(registry.ErrBadBundle, "bundle"), 400, "bundle"},
		{"registry too large", regErr(registry.ErrTooLarge, "module.wasm"), 413, "module.wasm"},
		{"registry media type", regErr(registry.ErrUnsupportedMediaType, "bundle"), 415, "bundle"},
		{"registry breaking change", regErr(registry.ErrInvalid, "connector.json#/object_types/0"), 422, "connector.json#/object_types/0"},
		{"registry version conflict", regErr(registry.ErrConflict, "version"), 409, "path.version"},
		{"registry not owner", regErr(registry.ErrForbidden, "id"), 403, "path.connector"},
		{"registry not found", regErr(registry.ErrNotFound, "id"), 404, "path.connector"},
		{"registry partner", regErr(registry.ErrInvalid, "partner"), 422, "query.partner"},
		{"connections field", &connections.FieldError{Field: "scopes[1]", Reason: "not in the manifest"}, 422, "body.scopes[1]"},
		{"connections field over a registry miss", &connections.FieldError{Field: "connector", Reason: "no such connector",
			Err: &registry.Error{Kind: registry.ErrNotFound, Message: "x"}}, 422, "body.connector"},
		{"connections auth", &connections.AuthError{Connection: "crm", Reason: "401 from remote"}, 422, "body.credentials"},
		{"connections oauth state", fmt.Errorf("x: %w", connections.ErrOAuthState), 400, "query.state"},
		{"connections state", &connections.WrongStateError{Connection: "crm", State: "disabled", Op: "sync"}, 409, ""},
		{"connections conflict", fmt.Errorf("bound elsewhere: %w", connections.ErrConflict), 409, ""},
		{"connections not found", fmt.Errorf("x: %w", connections.ErrNotFound), 404, ""},
		{"scheduler range", &scheduler.FieldError{Field: "range.from", Reason: "after to"}, 422, "body.from"},
		{"scheduler busy", &scheduler.BusyError{Tenant: "acme", Connection: "crm", RunID: "r1", Status: scheduler.Running}, 409, ""},
		{"scheduler queue full", scheduler.ErrQueueFull, 429, ""},
		{"scheduler closed", scheduler.ErrClosed, 503, ""},
		{"scheduler run not found", scheduler.ErrNotFound, 404, ""},
		{"secrets field", &secrets.FieldError{Field: "value", Reason: "empty"}, 422, "body.value"},
		{"secrets name", fmt.Errorf("put: %w", &secrets.FieldError{Field: "secret name", Reason: "bad"}), 422, "path.secret"},
		{"secrets sealed", fmt.Errorf("open: %w", secrets.ErrSealed), 500, ""},
		{"manifest", &manifest.ValidationError{Problems: []manifest.FieldError{{Field: "scopes/0", Message: "missing reason"}}}, 422, "connector.json#/scopes/0"},
		{"engine import", &engine.ImportError{Module: "extism:host/env", Name: "http_request", Reason: "no"}, 422, "module.wasm"},
		{"engine deadline", &engine.CallError{Export: "health", Kind: engine.ErrDeadline}, 504, ""},
		{"engine guest", &engine.CallError{Export: "authorize", Kind: engine.ErrGuest, Detail: "bad key"}, 502, ""},
		{"store field", fmt.Errorf("x: %w", &store.ValidationError{Field: "after", Reason: "too long"}), 422, "after"},
		{"store closed", store.ErrClosed, 503, ""},
		{"context deadline", context.DeadlineExceeded, 504, ""},
		{"api not found", ErrNotFound, 404, ""},
		{"status error", &StatusError{Status: 429, Detail: "slow down"}, 429, ""},
		{"unknown", errors.New("disk on fire"), 500, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := classify(tc.err)
			if p.Status != tc.status {
				t.Fatalf("status %d, want %d (%v)", p.Status, tc.status, tc.err)
			}
			if tc.field != "" && (len(p.Fields) == 0 || p.Fields[0].Field != tc.field) {
				t.Errorf("fields %+v, want %q", p.Fields, tc.field)
			}
			if p.Status == 500 && p.Detail != "internal error" {
				t.Errorf("a 500 shows %q", p.Detail)
			}
		})
	}
}
