package connections

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/hostfns"
	"github.com/sluicehq/sluice/store"
)

// Connection returns the engine's view of an active connection, with its
// credentials: what Engine.Sync, Backfill and Health take.
func (m *Manager) Connection(ctx context.Context, t *store.Tenant, id string) (engine.Connection, error) {
	c, err := m.Get(ctx, t, id)
	if err != nil {
		return engine.Connection{}, err
	}
	if c.State != StateActive {
		return engine.Connection{}, &WrongStateError{Connection: id, State: c.State, Op: "run"}
	}
	mod, err := m.module(ctx, c.Connector, c.Version)
	if err != nil {
		return engine.Connection{}, err
	}
	return m.engineConn(ctx, t, c, mod)
}

// engineConn builds the engine's view of c with its credentials.
func (m *Manager) engineConn(ctx context.Context, t *store.Tenant, c Connection, mod *engine.Module) (engine.Connection, error) {
	secrets, err := m.cfg.Secrets.Open(ctx, t, c.ID)
	if err != nil {
		return engine.Connection{}, fmt.Errorf("connections: open secrets of %q: %w", c.ID, err)
	}
	var (
		creds hostfns.Credentials
		scrub *hostfns.Scrubber
	)
	if mod.Manifest.Auth.Kind == protocol.AuthOAuth2AuthorizationCode {
		creds, scrub, err = m.codeCredentials(t, c, mod.Manifest, secrets)
	} else {
		creds, scrub, err = m.cfg.Engine.Credentials(mod.Manifest, c.Config, secrets)
	}
	if err != nil {
		return engine.Connection{}, err
	}
	return engine.Connection{
		Tenant: t, ID: c.ID, Module: mod, Config: c.Config, Scopes: c.Scopes,
		Credentials: creds, Scrub: scrub, Secrets: scrub.Values(), AccountID: c.AccountID,
		Fields: c.Fields, NoIndex: NoIndex(mod.Manifest, c.PersistentIndexing),
		Retention: Retention(mod.Manifest, c.RetentionDays),
	}, nil
}

// authorize runs the connector's authorize() with c's credentials, then
// binds the account it names and marks c active; a failure marks c error
// with the reason and returns an *AuthError (or ErrConflict for an
// account bound to another tenant).
func (m *Manager) authorize(ctx context.Context, t *store.Tenant, c Connection, mod *engine.Module) (Connection, error) {
	ec, err := m.engineConn(ctx, t, c, mod)
	if err != nil {
		var se *WrongStateError
		if errors.As(err, &se) {
			return c, err // nothing to authorize with yet: the state stays
		}
		return m.fail(ctx, t, c, asAuthError(c.ID, err, nil))
	}
	resp, err := m.cfg.Engine.Authorize(ctx, ec)
	if err != nil {
		return m.fail(ctx, t, c, asAuthError(c.ID, err, ec.Scrub))
	}
	for _, s := range resp.NeededScopes {
		if !slices.Contains(c.Scopes, s) {
			return m.fail(ctx, t, c, &AuthError{Connection: c.ID, Reason: fmt.Sprintf("the connector needs scope %q, which was not granted", s)})
		}
	}
	out, err := m.update(ctx, t, c.ID, func(x *Connection) error {
		x.State, x.StateReason, x.AccountID = StateActive, "", resp.AccountID
		return nil
	})
	if errors.Is(err, ErrConflict) {
		return m.fail(ctx, t, c, fmt.Errorf("connections: connection %q: remote account %q of connector %s is bound to another tenant: %w",
			c.ID, resp.AccountID, c.Connector, ErrConflict))
	}
	if err != nil {
		return c, err
	}
	m.log.Info("connection authorized", "tenant", t.ID(), "connection", c.ID, "account", resp.AccountID)
	return out, nil
}

// fail moves c to state error with cause's message and returns cause.
func (m *Manager) fail(ctx context.Context, t *store.Tenant, c Connection, cause error) (Connection, error) {
	reason := cause.Error()
	var ae *AuthError
	if errors.As(cause, &ae) {
		reason = ae.Reason
	}
	out, err := m.setState(context.WithoutCancel(ctx), t, c.ID, StateError, reason)
	if err != nil {
		return c, errors.Join(cause, err)
	}
	return out, cause
}

// asAuthError wraps a credential or engine error; its message is
// scrubbed of the connection's secrets.
func asAuthError(conn string, err error, scrub *hostfns.Scrubber) error {
	var ae *AuthError
	if errors.As(err, &ae) {
		return err
	}
	msg := err.Error()
	if scrub != nil {
		msg = scrub.String(msg)
	}
	return &AuthError{Connection: conn, Reason: msg, Err: &redacted{msg: msg, err: err}}
}

// redacted is an error whose text is scrubbed; Unwrap keeps errors.Is
// working on the original.
type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }
