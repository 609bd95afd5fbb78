package cli

import (
	"context"
	"fmt"
	"slices"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/store"
)

type connSpec struct {
	id      string
	config  map[string]string
	secrets map[string]string
	scopes  []string
}

// connection builds the engine's view of a connection from flags: the
// manifest's auth with the given secrets, the granted scopes (every
// declared scope by default) and the remote account from authorize().
func (h *home) connection(ctx context.Context, t *store.Tenant, mod *engine.Module, s connSpec) (engine.Connection, error) {
	m := mod.Manifest
	id := s.id
	if id == "" {
		id = m.ID
	}
	scopes := s.scopes
	if len(scopes) == 0 {
		for _, sc := range m.Scopes {
			scopes = append(scopes, sc.Name)
		}
	}
	for _, sc := range scopes {
		if !slices.ContainsFunc(m.Scopes, func(d protocol.Scope) bool { return d.Name == sc }) {
			return engine.Connection{}, usageError("--scope %q is not declared by %s", sc, m.ID)
		}
	}
	creds, scrub, err := h.engine.Credentials(m, s.config, s.secrets)
	if err != nil {
		return engine.Connection{}, usageError("credentials: %v", err)
	}
	values := make([]string, 0, len(s.secrets))
	for _, v := range s.secrets {
		values = append(values, v)
	}
	conn := engine.Connection{
		Tenant: t, ID: id, Module: mod, Config: s.config, Scopes: scopes,
		Credentials: creds, Scrub: scrub, Secrets: values,
	}
	auth, err := h.engine.Authorize(ctx, conn)
	if err != nil {
		return engine.Connection{}, fmt.Errorf("authorize: %w", err)
	}
	conn.AccountID = auth.AccountID
	return conn, nil
}
