package api

import (
	"context"
	"time"

	"github.com/sluicehq/sluice/connections"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/store"
)

// RegistryBackend adapts a *registry.Registry to Registry: it parses
// the uploaded bundle (registry.ParseBundle, at most maxBundleBytes; 0
// means the registry's default) and shows the registry's records in the
// API's shapes.
func RegistryBackend(r *registry.Registry, maxBundleBytes int64) Registry {
	return registryBackend{r: r, max: maxBundleBytes}
}

type registryBackend struct {
	r   *registry.Registry
	max int64
}

func (b registryBackend) Upload(ctx context.Context, u Upload) (Version, error) {
	bundle, err := registry.ParseBundle(u.Body, u.ContentType, b.max)
	if err != nil {
		return Version{}, err
	}
	v, err := b.r.Upload(ctx, u.Partner, bundle)
	if err != nil {
		return Version{}, err
	}
	return versionView(v, u.Partner), nil
}

func (b registryBackend) Connectors(ctx context.Context, partner string) ([]Connector, error) {
	all, err := b.r.Connectors(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Connector, 0, len(all))
	for _, c := range all {
		if partner == "" || c.Owner == partner {
			out = append(out, connectorView(c))
		}
	}
	return out, nil
}

func (b registryBackend) Connector(ctx context.Context, id string) (Connector, error) {
	c, err := b.r.Connector(ctx, id)
	return connectorView(c), err
}

func (b registryBackend) Versions(ctx context.Context, connector string) ([]Version, error) {
	c, err := b.r.Connector(ctx, connector)
	if err != nil {
		return nil, err
	}
	vs, err := b.r.Versions(ctx, connector)
	if err != nil {
		return nil, err
	}
	out := make([]Version, len(vs))
	for i, v := range vs {
		out[i] = versionView(v, c.Owner)
		out[i].Manifest = nil // the list stays light; GET the version for it
	}
	return out, nil
}

func (b registryBackend) Version(ctx context.Context, connector, version string) (Version, error) {
	c, err := b.r.Connector(ctx, connector)
	if err != nil {
		return Version{}, err
	}
	v, err := b.r.Version(ctx, connector, version)
	return versionView(v, c.Owner), err
}

func (b registryBackend) Module(ctx context.Context, connector, version string) ([]byte, error) {
	return b.r.Module(ctx, connector, version)
}

func (b registryBackend) Runbook(ctx context.Context, connector, version, name string) ([]byte, error) {
	return b.r.Runbook(ctx, connector, version, name)
}

func connectorView(c registry.Connector) Connector {
	return Connector{ID: c.ID, Partner: c.Owner, Latest: c.Latest, CreatedAt: c.CreatedAt}
}

// versionView names runbooks by the error type they answer, as the
// runbook route does.
func versionView(v registry.Version, owner string) Version {
	runbooks := []string{}
	if v.Spec != nil {
		for _, rb := range v.Spec.Runbooks {
			runbooks = append(runbooks, rb.ErrorType)
		}
	}
	return Version{
		Connector: v.Connector, Version: v.Version, Digest: v.Digest, Partner: owner,
		UploadedBy: v.UploadedBy, UploadedAt: v.UploadedAt, Certification: v.Certification,
		Manifest: v.Manifest, Runbooks: runbooks,
	}
}

// ConnectionsBackend adapts a *connections.Manager to Connections: all
// but Create, List and Update are the manager's own methods.
func ConnectionsBackend(m *connections.Manager) Connections { return connectionsBackend{m} }

type connectionsBackend struct{ *connections.Manager }

var _ Connections = connectionsBackend{}

func (b connectionsBackend) Create(ctx context.Context, t *store.Tenant, req ConnectionRequest) (store.Connection, error) {
	return b.Manager.Create(ctx, t, connections.CreateRequest{
		ID: req.ID, Connector: req.Connector, Version: req.Version, Scopes: req.Scopes,
		Config: protocol.Config(req.Config), Credentials: map[string]string(req.Credentials),
		Interval: time.Duration(req.IntervalSeconds) * time.Second, PersistentIndexing: req.PersistentIndexing,
		Fields: req.Fields, RetentionDays: req.RetentionDays,
	})
}

// listPage is the page size List reads the manager's listing with.
const listPage = 1000

func (b connectionsBackend) List(ctx context.Context, t *store.Tenant) ([]store.Connection, error) {
	var all []store.Connection
	after := ""
	for {
		page, next, err := b.Manager.List(ctx, t, connections.ListOptions{After: after, Limit: listPage})
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == "" {
			return all, nil
		}
		after = next
	}
}

func (b connectionsBackend) Update(ctx context.Context, t *store.Tenant, id string, req ConnectionUpdate) (store.Connection, error) {
	u := connections.UpdateRequest{Scopes: req.Scopes, PersistentIndexing: req.PersistentIndexing, Fields: req.Fields, RetentionDays: req.RetentionDays}
	if req.Config != nil {
		u.Config = protocol.Config(req.Config)
	}
	if req.IntervalSeconds != nil {
		d := time.Duration(*req.IntervalSeconds) * time.Second
		u.Interval = &d
	}
	return b.Manager.Update(ctx, t, id, u)
}
