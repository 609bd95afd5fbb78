package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/connections"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/internal/wasmbuild"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/store"
)

// demoPartner owns the example connectors in a demo server.
const demoPartner = "sluice-examples"

// demoFile is DIR/demo.json: every demo credential, owner-only.
type demoFile struct {
	AdminKey    string                `json:"admin_key"`
	PartnerKey  string                `json:"partner_key"`
	ReviewerKey string                `json:"reviewer_key"`
	Tenants     map[string]demoTenant `json:"tenants"`
}

type demoTenant struct {
	Key        string `json:"key"`
	Connection string `json:"connection"`
	Remote     string `json:"remote"`
}

// demo is what serve --demo starts beside the API: one sandbox remote per
// demo tenant (each its own remote account: an account binds to one
// tenant).
type demo struct {
	sandboxes []*sandbox.Server
}

func (d *demo) close() {
	for _, sb := range d.sandboxes {
		_ = sb.Close()
	}
}

// setupDemo registers the example connector (module, manifest and the
// runbooks beside it), creates the demo tenants' connections to their
// sandboxes, mints keys, writes demo.json, queues a first full sync of
// each, and prints curl lines to try.
func setupDemo(ctx context.Context, out io.Writer, h *home, b *backends, adminKey, modulePath, manifestPath, apiBase string) (*demo, error) {
	d := &demo{}
	wasm, err := os.ReadFile(modulePath)
	if err != nil {
		return d, fmt.Errorf("demo module (run `make wasm` first): %w", err)
	}
	// The runbooks beside the manifest go up with it: the demo's DLQ
	// items and health reasons then link to the connector's own pages.
	mf, runbooks, err := wasmbuild.ReadBundleFiles(manifestPath)
	if err != nil {
		return d, fmt.Errorf("demo manifest: %w", err)
	}
	v, err := b.registry.Upload(ctx, demoPartner, &registry.Bundle{Module: wasm, Manifest: mf, Runbooks: runbooks})
	if err != nil {
		return d, fmt.Errorf("demo upload: %w", err)
	}
	file := demoFile{Tenants: map[string]demoTenant{}}
	if file.AdminKey = adminKey; adminKey == "" {
		// A restarted demo: the bootstrap key was shown before; mint another.
		if file.AdminKey, err = api.MintKey(ctx, h.db, store.APIKey{Role: store.RoleAdmin, Name: "demo admin"}); err != nil {
			return d, err
		}
	}
	if file.PartnerKey, err = api.MintKey(ctx, h.db, store.APIKey{Role: store.RolePartner, Partner: demoPartner, Name: "demo partner"}); err != nil {
		return d, err
	}
	if file.ReviewerKey, err = api.MintKey(ctx, h.db, store.APIKey{Role: store.RoleReviewer, Name: "demo reviewer"}); err != nil {
		return d, err
	}
	for i, tenant := range []string{"acme", "globex"} {
		sb := sandbox.New(sandbox.Config{Users: 1000, Seed: int64(i + 1)})
		remote, err := sb.Start("127.0.0.1:0")
		if err != nil {
			return d, err
		}
		d.sandboxes = append(d.sandboxes, sb)
		t, err := h.db.Tenant(tenant)
		if err != nil {
			return d, err
		}
		if err := demoConnection(ctx, b.connections, t, v.Spec, remote); err != nil {
			return d, fmt.Errorf("demo connection of %s: %w", tenant, err)
		}
		key, err := api.MintKey(ctx, h.db, store.APIKey{Role: store.RoleTenantAdmin, Tenant: tenant, Name: "demo " + tenant})
		if err != nil {
			return d, err
		}
		file.Tenants[tenant] = demoTenant{Key: key, Connection: "directory", Remote: remote}
		if _, err := b.runs.Sync(ctx, t, "directory", api.SyncRequest{Full: true}); err != nil {
			return d, fmt.Errorf("demo sync of %s: %w", tenant, err)
		}
	}
	raw, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		return d, err
	}
	path := filepath.Join(h.dir, "demo.json")
	if err := os.WriteFile(path, append(raw, '\n'), 0o600); err != nil {
		return d, fmt.Errorf("demo.json: %w", err)
	}
	acme := file.Tenants["acme"]
	fmt.Fprintf(out, "demo ready: credentials in %s; a full sync of each tenant is running. Try:\n", path)
	fmt.Fprintf(out, "  curl -s -H 'Authorization: Bearer %s' %s/v1/tenants/acme/connections/directory/runs\n", acme.Key, apiBase)
	fmt.Fprintf(out, "  curl -s -H 'Authorization: Bearer %s' '%s/v1/tenants/acme/objects?connection=directory&type=user&limit=3'\n", acme.Key, apiBase)
	fmt.Fprintf(out, "  curl -s -H 'Authorization: Bearer %s' %s/v1/tenants/acme/receipts\n", acme.Key, apiBase)
	return d, nil
}

// demoConnection creates the tenant's directory connection, or keeps the
// one a previous demo run made.
func demoConnection(ctx context.Context, mgr *connections.Manager, t *store.Tenant, m *protocol.Manifest, remote string) error {
	if _, err := mgr.Get(ctx, t, "directory"); err == nil {
		_, err = mgr.Update(ctx, t, "directory", connections.UpdateRequest{Config: protocol.Config{"base_url": remote}})
		return err
	} else if !errors.Is(err, connections.ErrNotFound) {
		return err
	}
	scopes := make([]string, 0, len(m.Scopes))
	for _, s := range m.Scopes {
		scopes = append(scopes, s.Name)
	}
	_, err := mgr.Create(ctx, t, connections.CreateRequest{
		ID: "directory", Connector: m.ID, Version: m.Version, Scopes: scopes,
		Config:      protocol.Config{"base_url": remote},
		Credentials: map[string]string{"client_id": sandbox.DefaultClientID, "client_secret": sandbox.DefaultClientSecret},
	})
	return err
}
