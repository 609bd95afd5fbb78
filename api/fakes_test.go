package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/store"
)

// The fakes stand in for the domain packages, which land separately.
// They are deliberately simple and stateless where a table test needs
// every case to see the same world: connector "directory" of partner p1
// at version 1.0.0, and connection "crm" in every tenant.

var fakeTime = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

type fakeRegistry struct{}

func (fakeRegistry) Upload(_ context.Context, u Upload) (Version, error) {
	if _, err := io.Copy(io.Discard, u.Body); err != nil {
		return Version{}, fmt.Errorf("read bundle: %w", err)
	}
	// Every fake bundle is a version of "directory", owned by p1.
	if u.Partner != "" && u.Partner != "p1" {
		return Version{}, fmt.Errorf("connector directory belongs to another partner: %w", ErrForbidden)
	}
	return fakeVersion(true), nil
}

func fakeVersion(withManifest bool) Version {
	v := Version{Connector: "directory", Version: "1.0.0", Digest: "sha256:00", Partner: "p1",
		UploadedBy: "0123456789abcdef", UploadedAt: fakeTime, Runbooks: []string{"rate_limited"}}
	if withManifest {
		v.Manifest = json.RawMessage(`{"id":"directory","version":"1.0.0"}`)
	}
	return v
}

func (fakeRegistry) Connectors(_ context.Context, partner string) ([]Connector, error) {
	all := []Connector{
		{ID: "directory", Partner: "p1", Latest: "1.0.0", CreatedAt: fakeTime},
		{ID: "crm", Partner: "p2", Latest: "2.0.0", CreatedAt: fakeTime},
	}
	if partner == "" {
		return all, nil
	}
	var out []Connector
	for _, c := range all {
		if c.Partner == partner {
			out = append(out, c)
		}
	}
	return out, nil
}

func (fakeRegistry) Connector(_ context.Context, id string) (Connector, error) {
	if id != "directory" {
		return Connector{}, ErrNotFound
	}
	return Connector{ID: "directory", Partner: "p1", Latest: "1.0.0", CreatedAt: fakeTime}, nil
}

func (f fakeRegistry) Versions(ctx context.Context, connector string) ([]Version, error) {
	if _, err := f.Connector(ctx, connector); err != nil {
		return nil, err
	}
	return []Version{fakeVersion(false)}, nil
}

func (f fakeRegistry) Version(_ context.Context, connector, version string) (Version, error) {
	if connector != "directory" || version != "1.0.0" {
		return Version{}, ErrNotFound
	}
	return fakeVersion(true), nil
}

func (f fakeRegistry) Module(ctx context.Context, connector, version string) ([]byte, error) {
	if _, err := f.Version(ctx, connector, version); err != nil {
		return nil, err
	}
	return []byte("\x00asm\x01\x00\x00\x00"), nil
}

func (f fakeRegistry) Runbook(ctx context.Context, connector, version, name string) ([]byte, error) {
	if _, err := f.Version(ctx, connector, version); err != nil || name != "rate_limited" {
		return nil, ErrNotFound
	}
	return []byte("# Rate limited\n\nWait and retry.\n"), nil
}

// fakeConnections knows connection "crm" in every tenant. Connection
// hands out a native module whose health() answers reachable.
type fakeConnections struct {
	module *engine.Module
}

func fakeConnection(tenant string) store.Connection {
	return store.Connection{ID: "crm", Tenant: tenant, Connector: "directory", Version: "1.0.0",
		Scopes: []string{"users:read"}, State: "active", AccountID: "acct-" + tenant,
		Interval: time.Hour, CreatedAt: fakeTime, UpdatedAt: fakeTime}
}

func (*fakeConnections) Create(_ context.Context, t *store.Tenant, req ConnectionRequest) (store.Connection, error) {
	c := fakeConnection(t.ID())
	if req.ID != "" {
		c.ID = req.ID
	}
	return c, nil
}

func (*fakeConnections) List(_ context.Context, t *store.Tenant) ([]store.Connection, error) {
	return []store.Connection{fakeConnection(t.ID())}, nil
}

func (*fakeConnections) Get(_ context.Context, t *store.Tenant, id string) (store.Connection, error) {
	if id != "crm" {
		return store.Connection{}, ErrNotFound
	}
	return fakeConnection(t.ID()), nil
}

func (f *fakeConnections) Update(ctx context.Context, t *store.Tenant, id string, req ConnectionUpdate) (store.Connection, error) {
	c, err := f.Get(ctx, t, id)
	if req.IntervalSeconds != nil {
		c.Interval = time.Duration(*req.IntervalSeconds) * time.Second
	}
	return c, err
}

func (f *fakeConnections) Delete(ctx context.Context, t *store.Tenant, id string) error {
	_, err := f.Get(ctx, t, id)
	return err
}

func (f *fakeConnections) Authorize(ctx context.Context, t *store.Tenant, id string) (store.Connection, error) {
	return f.Get(ctx, t, id)
}

func (f *fakeConnections) Disable(ctx context.Context, t *store.Tenant, id string) (store.Connection, error) {
	c, err := f.Get(ctx, t, id)
	c.State = "disabled"
	return c, err
}

func (f *fakeConnections) PutCredentials(ctx context.Context, t *store.Tenant, id string, _ map[string]string) (store.Connection, error) {
	return f.Get(ctx, t, id)
}

func (f *fakeConnections) Connection(ctx context.Context, t *store.Tenant, id string) (engine.Connection, error) {
	if _, err := f.Get(ctx, t, id); err != nil {
		return engine.Connection{}, err
	}
	return engine.Connection{Tenant: t, ID: id, Module: f.module}, nil
}

func (f *fakeConnections) StartOAuth(ctx context.Context, t *store.Tenant, id, redirectURI string) (string, error) {
	if _, err := f.Get(ctx, t, id); err != nil {
		return "", err
	}
	return "https://remote.example/authorize?state=s-" + t.ID() + "&redirect_uri=" + url.QueryEscape(redirectURI), nil
}

func (*fakeConnections) CompleteOAuth(_ context.Context, state, _ string) (string, string, error) {
	if state != "s-acme" {
		return "", "", fmt.Errorf("unknown state: %w", ErrNotFound)
	}
	return "acme", "crm", nil
}

func (*fakeConnections) DenyOAuth(_ context.Context, state, _, _ string) (string, string, error) {
	if state != "s-acme" {
		return "", "", fmt.Errorf("unknown state: %w", ErrNotFound)
	}
	return "acme", "crm", nil
}

type fakeScheduler struct{}

func fakeRun(id string) store.Run {
	return store.Run{ID: id, Connection: "crm", Connector: "directory", Version: "1.0.0", Kind: "sync",
		State: store.RunSucceeded, StartedAt: fakeTime, FinishedAt: fakeTime.Add(time.Minute), ReceiptID: "rcpt-1"}
}

func (fakeScheduler) Sync(_ context.Context, _ *store.Tenant, connection string, _ SyncRequest) (string, error) {
	if connection != "crm" {
		return "", ErrNotFound
	}
	return "run-1", nil
}

func (fakeScheduler) Backfill(_ context.Context, _ *store.Tenant, connection string, _ protocol.Range) (string, error) {
	if connection != "crm" {
		return "", ErrNotFound
	}
	return "run-2", nil
}

func (fakeScheduler) Runs(_ context.Context, _ *store.Tenant, connection string, limit int) ([]store.Run, error) {
	if connection != "crm" {
		return nil, ErrNotFound
	}
	return []store.Run{fakeRun("run-1")}, nil
}

func (fakeScheduler) Run(_ context.Context, _ *store.Tenant, id string) (store.Run, error) {
	if id != "run-1" {
		return store.Run{}, ErrNotFound
	}
	return fakeRun(id), nil
}

func (fakeScheduler) Pending(context.Context, *store.Tenant, string) (int, error) { return 2, nil }

type fakeHostStats struct{}

func (fakeHostStats) ConnectionStats(context.Context, *store.Tenant, string, string) (ConnectionStats, error) {
	return ConnectionStats{LatencyP50: 12 * time.Millisecond, LatencyP95: 80 * time.Millisecond, TokensLeft: 3.5,
		Last429: fakeTime, DLQItems: 1}, nil
}
