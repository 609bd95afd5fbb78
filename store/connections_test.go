package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

func conn(id, account string) Connection {
	yes := true
	return Connection{
		ID: id, Connector: "directory", Version: "1.0.0", Scopes: []string{"users:read", "groups:read"},
		Config: protocol.Config{"base_url": "http://127.0.0.1:8081"}, State: "active", AccountID: account,
		Interval: time.Hour, PersistentIndexing: &yes, CreatedAt: t0, UpdatedAt: t0.Add(time.Second),
	}
}

// writeConnectionScenario covers every kind of connections.go: two
// connections of acme on one account, a pending one of globex and a
// pending OAuth flow.
func writeConnectionScenario(t *testing.T, db *DB) {
	ctx := context.Background()
	acme, globex := tenant(t, db, "acme"), tenant(t, db, "globex")
	mustNil(t, acme.CreateConnection(ctx, conn("c1", "acct-<1>")))
	mustNil(t, acme.CreateConnection(ctx, conn("c2", "acct-<1>")))
	g := conn("g1", "")
	g.State, g.StateReason, g.Config, g.Interval, g.PersistentIndexing = "pending", "waiting for consent", nil, 0, nil
	mustNil(t, globex.CreateConnection(ctx, g))
	mustNil(t, db.Platform().PutOAuthState(ctx, "st-1", OAuthState{
		Tenant: "globex", Connection: "g1", ConnectionCreatedAt: t0, Verifier: "v-43-characters-of-verifier-xxxxxxxxxxxxxx",
		RedirectURI: "http://127.0.0.1:8080/v1/oauth/callback", CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute),
	}))
}

func TestConnectionsGolden(t *testing.T) {
	db := openDB(t)
	writeConnectionScenario(t, db)
	byKind := map[string][]string{}
	for _, kv := range dump(t, db) {
		seg := strings.SplitN(kv, "/", 5)
		switch {
		case len(seg) >= 4 && seg[0] == "t" && seg[2] == "cn":
			byKind["cn"] = append(byKind["cn"], kv)
		case len(seg) >= 4 && seg[0] == "p" && seg[1] == "conn":
			byKind["conn-"+seg[2]] = append(byKind["conn-"+seg[2]], kv)
		default:
			t.Fatalf("unexpected key %s", kv)
		}
	}
	kinds := []string{"cn", "conn-acct", "conn-oauth"}
	dir := filepath.Join("testdata", "golden-connections")
	if *update {
		mustNil(t, os.RemoveAll(dir))
		mustNil(t, os.MkdirAll(dir, 0o755))
	}
	for _, kind := range kinds {
		lines := byKind[kind]
		if len(lines) == 0 {
			t.Errorf("scenario writes no %q record", kind)
			continue
		}
		path := filepath.Join(dir, kind+".txt")
		got := strings.Join(lines, "\n") + "\n"
		if *update {
			mustNil(t, os.WriteFile(path, []byte(got), 0o644))
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v (run go test ./store -run TestConnectionsGolden -update)", err)
			continue
		}
		if got != string(want) {
			t.Errorf("%s differs from the stored format:\n--- got\n%s--- want\n%s", path, got, want)
		}
	}
	if len(byKind) != len(kinds) {
		t.Errorf("scenario writes kinds %v, want exactly %v", keysOf(byKind), kinds)
	}
}

func TestConnectionCRUD(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	writeConnectionScenario(t, db)
	acme := tenant(t, db, "acme")

	c, err := acme.Connection(ctx, "c1")
	mustNil(t, err)
	if c.Tenant != "acme" || c.AccountID != "acct-<1>" || c.Interval != time.Hour || c.PersistentIndexing == nil || !*c.PersistentIndexing {
		t.Fatalf("Connection = %+v", c)
	}
	if err := acme.CreateConnection(ctx, conn("c1", "")); !errors.Is(err, ErrExists) {
		t.Errorf("create of a taken id: %v, want ErrExists", err)
	}
	if _, err := tenant(t, db, "globex").Connection(ctx, "c1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("globex reads acme's c1: %v, want ErrNotFound", err)
	}

	up, err := acme.UpdateConnection(ctx, "c1", func(c *Connection) error {
		c.State, c.Config["team"] = "disabled", "core"
		return nil
	})
	mustNil(t, err)
	if up.State != "disabled" || up.Config["team"] != "core" || up.Config["base_url"] == "" {
		t.Errorf("updated = %+v", up)
	}
	boom := errors.New("boom")
	if _, err := acme.UpdateConnection(ctx, "c1", func(c *Connection) error { c.State = "x"; return boom }); !errors.Is(err, boom) {
		t.Errorf("fn error: %v", err)
	}
	if _, err := acme.UpdateConnection(ctx, "c1", func(c *Connection) error { c.Connector = "other"; return nil }); !errors.Is(err, ErrInvalid) {
		t.Errorf("connector change: %v, want ErrInvalid", err)
	}
	if got, _ := acme.Connection(ctx, "c1"); got.State != "disabled" {
		t.Errorf("a failed update wrote: %+v", got)
	}
	if _, err := acme.UpdateConnection(ctx, "nope", func(*Connection) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("update of a missing connection: %v", err)
	}

	mustNil(t, acme.DeleteConnection(ctx, "c2"))
	if err := acme.DeleteConnection(ctx, "c2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func TestConnectionsPages(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	tn := tenant(t, db, "acme")
	// "c1-b" sorts between "c1" and "c10": a cursor must not skip it.
	ids := []string{"c1", "c1-b", "c10", "c2", "d"}
	for _, id := range ids {
		mustNil(t, tn.CreateConnection(ctx, conn(id, "")))
	}
	mustNil(t, tenant(t, db, "acme-x").CreateConnection(ctx, conn("zz", "")))
	var got []string
	after := ""
	for pages := 0; pages < 10; pages++ {
		page, next, err := tn.Connections(ctx, after, 2)
		mustNil(t, err)
		for _, c := range page {
			got = append(got, c.ID)
		}
		if next == "" {
			break
		}
		after = next
	}
	if fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Errorf("pages = %v, want %v", got, ids)
	}
	if _, _, err := tn.Connections(ctx, "../x", 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad cursor: %v", err)
	}
}

func TestAccountBinding(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	writeConnectionScenario(t, db)
	p := db.Platform()
	acme, globex := tenant(t, db, "acme"), tenant(t, db, "globex")

	b, err := p.AccountBinding(ctx, "directory", "acct-<1>")
	mustNil(t, err)
	if b.Tenant != "acme" || fmt.Sprint(b.Connections) != "[c1 c2]" {
		t.Fatalf("binding = %+v", b)
	}
	// Another tenant cannot take the account, by update or by create.
	_, err = globex.UpdateConnection(ctx, "g1", func(c *Connection) error { c.AccountID = "acct-<1>"; return nil })
	var bound *AccountBoundError
	if !errors.As(err, &bound) || !errors.Is(err, ErrExists) || strings.Contains(err.Error(), "acme") {
		t.Fatalf("globex binding acme's account: %v, want an AccountBoundError naming no tenant", err)
	}
	if err := globex.CreateConnection(ctx, conn("g2", "acct-<1>")); !errors.As(err, &bound) {
		t.Fatalf("globex creating on acme's account: %v", err)
	}
	if _, err := globex.Connection(ctx, "g2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a refused create wrote the connection: %v", err)
	}
	// The same account of another connector is another binding.
	other := conn("g3", "acct-<1>")
	other.Connector = "directory-2"
	mustNil(t, globex.CreateConnection(ctx, other))

	// Moving c1 to another account and deleting c2 releases acct-<1>.
	_, err = acme.UpdateConnection(ctx, "c1", func(c *Connection) error { c.AccountID = "acct-2"; return nil })
	mustNil(t, err)
	if b, _ := p.AccountBinding(ctx, "directory", "acct-<1>"); fmt.Sprint(b.Connections) != "[c2]" {
		t.Errorf("after moving c1: %+v", b)
	}
	mustNil(t, acme.DeleteConnection(ctx, "c2"))
	if _, err := p.AccountBinding(ctx, "directory", "acct-<1>"); !errors.Is(err, ErrNotFound) {
		t.Errorf("binding outlived its last connection: %v", err)
	}
	_, err = globex.UpdateConnection(ctx, "g1", func(c *Connection) error { c.AccountID = "acct-<1>"; return nil })
	mustNil(t, err)
	if b, _ := p.AccountBinding(ctx, "directory", "acct-<1>"); b.Tenant != "globex" {
		t.Errorf("binding after release = %+v", b)
	}
}

// Two tenants binding one account at once: exactly one wins, the other
// sees a conflict or the binding, never both bound.
func TestAccountBindingRace(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = tenant(t, db, fmt.Sprintf("t%d", i)).CreateConnection(ctx, conn("c", "acct-race"))
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, ErrExists), errors.Is(err, ErrConflict):
		default:
			t.Errorf("unexpected error %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d tenants bound the account, want 1", won)
	}
}

func TestOAuthStateTakeOnce(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	writeConnectionScenario(t, db)
	p := db.Platform()
	if _, err := p.TakeOAuthState(ctx, "st-unknown", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown state: %v", err)
	}
	if s, err := p.TakeOAuthState(ctx, "st-1", "acme"); !errors.Is(err, ErrNotFound) || s.Verifier != "" {
		t.Errorf("another tenant's state: %+v, %v; want ErrNotFound and nothing", s, err)
	}
	s, err := p.TakeOAuthState(ctx, "st-1", "globex")
	mustNil(t, err)
	if s.Tenant != "globex" || s.Connection != "g1" || !s.ExpiresAt.Equal(t0.Add(10*time.Minute)) {
		t.Errorf("state = %+v", s)
	}
	if _, err := p.TakeOAuthState(ctx, "st-1", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("second take: %v, want ErrNotFound", err)
	}
	for _, tt := range []struct {
		name  string
		state string
		s     OAuthState
	}{
		{"empty state", "", OAuthState{Tenant: "a", Connection: "c", Verifier: "v", RedirectURI: "u", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}},
		{"bad tenant", "s", OAuthState{Tenant: "A/", Connection: "c", Verifier: "v", RedirectURI: "u", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}},
		{"no verifier", "s", OAuthState{Tenant: "a", Connection: "c", RedirectURI: "u", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}},
		{"expired at birth", "s", OAuthState{Tenant: "a", Connection: "c", Verifier: "v", RedirectURI: "u", CreatedAt: t0, ExpiresAt: t0}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := p.PutOAuthState(ctx, tt.state, tt.s); !errors.Is(err, ErrInvalid) {
				t.Errorf("PutOAuthState: %v, want ErrInvalid", err)
			}
		})
	}
}

func TestConnectionValidation(t *testing.T) {
	ctx := context.Background()
	tn := tenant(t, openDB(t), "acme")
	for _, tt := range []struct {
		field string
		edit  func(*Connection)
	}{
		{"connection.id", func(c *Connection) { c.ID = "Bad/Id" }},
		{"connection.tenant", func(c *Connection) { c.Tenant = "globex" }},
		{"connection.connector", func(c *Connection) { c.Connector = "a/b" }},
		{"connection.version", func(c *Connection) { c.Version = "" }},
		{"connection.state", func(c *Connection) { c.State = "" }},
		{"connection.scopes[1]", func(c *Connection) { c.Scopes = []string{"a", ""} }},
		{"connection.config", func(c *Connection) { c.Config = protocol.Config{"k": strings.Repeat("v", maxConfigBytes)} }},
		{"connection.account_id", func(c *Connection) { c.AccountID = strings.Repeat("a", maxFieldLen+1) }},
		{"connection.interval", func(c *Connection) { c.Interval = -time.Second }},
		{"connection.created_at", func(c *Connection) { c.CreatedAt = time.Time{} }},
	} {
		t.Run(tt.field, func(t *testing.T) {
			c := conn("c1", "")
			tt.edit(&c)
			err := tn.CreateConnection(ctx, c)
			var verr *ValidationError
			if !errors.As(err, &verr) || verr.Field != tt.field {
				t.Errorf("error = %v, want a ValidationError on %s", err, tt.field)
			}
		})
	}
}
