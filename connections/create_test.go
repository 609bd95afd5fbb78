package connections_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connections"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/store"
)

func TestCreateClientCredentials(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	acme := r.tenant("acme")
	c, err := r.m.Create(ctx, acme, r.clientCredentials("dir"))
	if err != nil {
		t.Fatal(err)
	}
	want := r.sb.Account().ID
	if c.State != connections.StateActive || c.AccountID != want || c.StateReason != "" || c.Tenant != "acme" || c.Interval != time.Hour {
		t.Fatalf("created = %+v, want active on account %s", c, want)
	}
	if got := must(r.m.Get(ctx, acme, "dir"))(t); got.State != connections.StateActive || got.AccountID != want {
		t.Errorf("stored = %+v", got)
	}
	// The secrets are in the vault, not in the record.
	if names := must(r.vault.Names(ctx, acme, "dir"))(t); strings.Join(names, ",") != "client_id,client_secret" {
		t.Errorf("secret names = %v", names)
	}
	b := must(r.db.Platform().AccountBinding(ctx, "directory", want))(t)
	if b.Tenant != "acme" || len(b.Connections) != 1 || b.Connections[0] != "dir" {
		t.Errorf("binding = %+v", b)
	}
	// The engine's view authorizes against the sandbox with the stored
	// credentials.
	ec := must(r.m.Connection(ctx, acme, "dir"))(t)
	if ec.AccountID != want || ec.Module == nil || len(ec.Secrets) == 0 {
		t.Fatalf("engine connection = %+v", ec)
	}
	if resp := must(r.eng.Authorize(ctx, ec))(t); resp.AccountID != want {
		t.Errorf("authorize through the view = %+v", resp)
	}
	// A generated id is valid and unique.
	req := r.clientCredentials("")
	c1, c2 := must(r.m.Create(ctx, acme, req))(t), must(r.m.Create(ctx, acme, req))(t)
	if c1.ID == c2.ID || !strings.HasPrefix(c1.ID, "c-") {
		t.Errorf("generated ids %q and %q", c1.ID, c2.ID)
	}
	if _, err := r.m.Create(ctx, acme, r.clientCredentials("dir")); !errors.Is(err, connections.ErrConflict) {
		t.Errorf("create of a taken id: %v, want ErrConflict", err)
	}
	page, next := must2(r.m.List(ctx, acme, connections.ListOptions{Limit: 2}))(t)
	rest, end := must2(r.m.List(ctx, acme, connections.ListOptions{After: next}))(t)
	if len(page) != 2 || next == "" || len(rest) != 1 || end != "" {
		t.Errorf("pages: %d (next %q), %d (next %q); want 2 then 1", len(page), next, len(rest), end)
	}
}

func TestCreateValidation(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	acme := r.tenant("acme")
	for _, tt := range []struct {
		name  string
		edit  func(*connections.CreateRequest)
		field string
	}{
		{"scope not in manifest", func(q *connections.CreateRequest) { q.Scopes = []string{"users:read", "users:delete"} }, "scopes[1]"},
		{"scope twice", func(q *connections.CreateRequest) { q.Scopes = []string{"users:read", "users:read"} }, "scopes[1]"},
		{"no scope", func(q *connections.CreateRequest) { q.Scopes = nil }, "scopes"},
		{"no client secret", func(q *connections.CreateRequest) { delete(q.Credentials, "client_secret") }, "credentials.client_secret"},
		{"reserved secret", func(q *connections.CreateRequest) { q.Credentials["oauth_token"] = "x" }, "credentials.oauth_token"},
		{"bad secret name", func(q *connections.CreateRequest) { q.Credentials["a/b"] = "x" }, "credentials"},
		{"bad id", func(q *connections.CreateRequest) { q.ID = "Dir" }, "id"},
		{"interval too short", func(q *connections.CreateRequest) { q.Interval = time.Second }, "interval"},
		{"unknown version", func(q *connections.CreateRequest) { q.Version = "9.9.9" }, "version"},
		{"no connector", func(q *connections.CreateRequest) { q.Connector = "" }, "connector"},
		{"token url unset", func(q *connections.CreateRequest) { q.Config = protocol.Config{} }, "config"},
		{"token url not http", func(q *connections.CreateRequest) { q.Config = protocol.Config{"base_url": "file:///etc"} }, "config"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := r.clientCredentials("dir")
			tt.edit(&req)
			_, err := r.m.Create(ctx, acme, req)
			var fe *connections.FieldError
			if !errors.As(err, &fe) || !errors.Is(err, connections.ErrInvalid) || fe.Field != tt.field {
				t.Fatalf("error = %v, want a FieldError on %s", err, tt.field)
			}
		})
	}
	if page, _, err := r.m.List(ctx, acme, connections.ListOptions{}); err != nil || len(page) != 0 {
		t.Errorf("refused requests left connections: %+v, %v", page, err)
	}
}

// Credentials the remote refuses: nothing is left behind, and the error
// says why without quoting the secret.
func TestCreateRefusedCredentials(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	acme := r.tenant("acme")
	req := r.clientCredentials("dir")
	req.Credentials["client_secret"] = "wrong-secret-51f0a2"
	_, err := r.m.Create(ctx, acme, req)
	var ae *connections.AuthError
	if !errors.As(err, &ae) || !errors.Is(err, connections.ErrAuthorization) || ae.Reason == "" {
		t.Fatalf("error = %v, want an AuthError", err)
	}
	if strings.Contains(err.Error(), "wrong-secret-51f0a2") {
		t.Errorf("the error quotes the secret: %v", err)
	}
	if _, err := r.m.Get(ctx, acme, "dir"); !errors.Is(err, connections.ErrNotFound) {
		t.Errorf("a connection that never authorized was kept: %v", err)
	}
	if names := must(r.vault.Names(ctx, acme, "dir"))(t); len(names) != 0 {
		t.Errorf("its secrets were kept: %v", names)
	}
}

func TestAccountBoundToOneTenant(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	acme, globex := r.tenant("acme"), r.tenant("globex")
	must(r.m.Create(ctx, acme, r.clientCredentials("dir")))(t)
	must(r.m.Create(ctx, acme, r.clientCredentials("dir-2")))(t) // same tenant: fine

	_, err := r.m.Create(ctx, globex, r.clientCredentials("dir"))
	if !errors.Is(err, connections.ErrConflict) || strings.Contains(err.Error(), "acme") {
		t.Fatalf("globex binding acme's account: %v, want ErrConflict naming no tenant", err)
	}
	if _, err := r.m.Get(ctx, globex, "dir"); !errors.Is(err, connections.ErrNotFound) {
		t.Errorf("the refused connection was kept: %v", err)
	}
	// Once acme lets go of the account, globex may bind it.
	noErr(t, r.m.Delete(ctx, acme, "dir"))
	if _, err := r.m.Create(ctx, globex, r.clientCredentials("dir")); !errors.Is(err, connections.ErrConflict) {
		t.Fatalf("bound while acme still had dir-2: %v", err)
	}
	noErr(t, r.m.Delete(ctx, acme, "dir-2"))
	if c, err := r.m.Create(ctx, globex, r.clientCredentials("dir")); err != nil || c.State != connections.StateActive {
		t.Fatalf("globex after acme released: %+v, %v", c, err)
	}
}

func TestDeleteRemovesSecrets(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	acme := r.tenant("acme")
	req := r.clientCredentials("dir")
	req.Credentials["webhook_secret"] = "whsec-0c1d"
	c := must(r.m.Create(ctx, acme, req))(t)
	noErr(t, r.m.Delete(ctx, acme, "dir"))
	if sealed := must(acme.Secrets(ctx, "dir"))(t); len(sealed) != 0 {
		t.Errorf("sealed secrets left after delete: %d", len(sealed))
	}
	if _, err := r.m.Get(ctx, acme, "dir"); !errors.Is(err, connections.ErrNotFound) {
		t.Errorf("Get after delete: %v", err)
	}
	if _, err := r.db.Platform().AccountBinding(ctx, "directory", c.AccountID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("binding after delete: %v", err)
	}
	if err := r.m.Delete(ctx, acme, "dir"); !errors.Is(err, connections.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func TestDisableUpdateAuthorize(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	acme := r.tenant("acme")
	must(r.m.Create(ctx, acme, r.clientCredentials("dir")))(t)

	c := must(r.m.Disable(ctx, acme, "dir"))(t)
	if c.State != connections.StateDisabled {
		t.Fatalf("disabled = %+v", c)
	}
	if _, err := r.m.Connection(ctx, acme, "dir"); !errors.Is(err, connections.ErrState) {
		t.Errorf("Connection of a disabled connection: %v, want ErrState", err)
	}
	if _, err := r.m.StartOAuth(ctx, acme, "dir", callback); !errors.Is(err, connections.ErrState) {
		t.Errorf("StartOAuth of a disabled connection: %v, want ErrState", err)
	}
	if c := must(r.m.Authorize(ctx, acme, "dir"))(t); c.State != connections.StateActive {
		t.Fatalf("re-authorized = %+v", c)
	}

	day := 24 * time.Hour
	c = must(r.m.Update(ctx, acme, "dir", connections.UpdateRequest{Scopes: []string{"users:read"}, Interval: &day}))(t)
	if c.State != connections.StateActive || len(c.Scopes) != 1 || c.Interval != day {
		t.Errorf("updated = %+v", c)
	}
	if _, err := r.m.Update(ctx, acme, "dir", connections.UpdateRequest{Scopes: []string{"admin"}}); !errors.Is(err, connections.ErrInvalid) {
		t.Errorf("update to a foreign scope: %v", err)
	}
	// A config that no longer reaches the remote fails the re-authorize
	// and leaves the connection in error, with the reason.
	c, err := r.m.Update(ctx, acme, "dir", connections.UpdateRequest{Config: protocol.Config{"base_url": "http://127.0.0.1:1"}})
	if !errors.Is(err, connections.ErrAuthorization) || c.State != connections.StateError || c.StateReason == "" {
		t.Fatalf("update to a dead remote: %+v, %v", c, err)
	}
	c = must(r.m.Update(ctx, acme, "dir", connections.UpdateRequest{Config: protocol.Config{"base_url": r.base}}))(t)
	if c.State != connections.StateActive || c.StateReason != "" {
		t.Errorf("repaired = %+v", c)
	}
	// Rotating to a wrong secret fails the same way; the right one heals.
	c, err = r.m.PutCredentials(ctx, acme, "dir", map[string]string{"client_secret": "rotated-wrong"})
	if !errors.Is(err, connections.ErrAuthorization) || c.State != connections.StateError {
		t.Fatalf("wrong rotation: %+v, %v", c, err)
	}
	if c := must(r.m.PutCredentials(ctx, acme, "dir", map[string]string{"client_secret": clientSecret}))(t); c.State != connections.StateActive {
		t.Errorf("after rotation back: %+v", c)
	}
}
