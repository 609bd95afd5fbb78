package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/hostfns"
)

// systemTenant keys the pool for calls made on behalf of no tenant
// (discover at upload). Tenant ids cannot start with an underscore.
const systemTenant = "_system"

// Discover calls discover() with every door shut: a connector describes
// itself without network, emits or logs.
func (e *Engine) Discover(ctx context.Context, m *Module) (protocol.DiscoverResponse, error) {
	var resp protocol.DiscoverResponse
	out, err := e.callOnce(ctx, systemTenant, m, &hostfns.Call{}, protocol.ExportDiscover, []byte("{}"), false)
	if err != nil {
		return resp, err
	}
	return resp, decodeOutput(protocol.ExportDiscover, out, &resp)
}

// Authorize calls authorize() with network access to the manifest's
// hosts and returns the remote account the credentials belong to.
func (e *Engine) Authorize(ctx context.Context, c Connection) (protocol.AuthorizeResponse, error) {
	var resp protocol.AuthorizeResponse
	in, err := json.Marshal(protocol.AuthorizeRequest{GrantedScopes: c.Scopes, Config: c.Config})
	if err != nil {
		return resp, err
	}
	out, err := e.callOnce(ctx, c.Tenant.ID(), c.Module, e.netOnly(c, false), protocol.ExportAuthorize, in, false)
	if err != nil {
		return resp, err
	}
	if err := decodeOutput(protocol.ExportAuthorize, out, &resp); err != nil {
		return resp, err
	}
	if resp.AccountID == "" {
		return resp, &CallError{Export: protocol.ExportAuthorize, Kind: ErrBadOutput, Detail: "account_id is empty"}
	}
	return resp, nil
}

// Health calls health() with read-only network access.
func (e *Engine) Health(ctx context.Context, c Connection) (protocol.HealthResponse, error) {
	var resp protocol.HealthResponse
	in, err := json.Marshal(protocol.HealthRequest{Config: c.Config})
	if err != nil {
		return resp, err
	}
	out, err := e.callOnce(ctx, c.Tenant.ID(), c.Module, e.netOnly(c, true), protocol.ExportHealth, in, false)
	if err != nil {
		return resp, err
	}
	return resp, decodeOutput(protocol.ExportHealth, out, &resp)
}

// Invoke calls one export with the given doors. Fresh forces a new
// instance (the cold-start benchmark); otherwise the pool is used.
func (e *Engine) Invoke(ctx context.Context, tenant string, m *Module, hc *hostfns.Call, export string, input []byte, fresh bool) ([]byte, error) {
	if hc == nil {
		hc = &hostfns.Call{}
	}
	return e.callOnce(ctx, tenant, m, hc, export, input, fresh)
}

func (e *Engine) callOnce(ctx context.Context, tenant string, m *Module, hc *hostfns.Call, export string, input []byte, fresh bool) ([]byte, error) {
	now := e.cfg.Now()
	sess, err := m.guest.acquire(ctx, tenant, now, runSeed(fmt.Sprint(now.UnixNano())), fresh)
	if err != nil {
		return nil, err
	}
	defer sess.release(context.WithoutCancel(ctx))
	return sess.call(ctx, hc, export, input)
}

// netOnly opens the network door alone, for calls that emit nothing.
func (e *Engine) netOnly(c Connection, readOnly bool) *hostfns.Call {
	m := c.Module.Manifest
	scrub := c.scrubber()
	return &hostfns.Call{
		Net: hostfns.NewHTTP(hostfns.HTTPConfig{
			Hosts:            m.Hosts,
			ReadOnly:         readOnly,
			Transport:        e.transport,
			Credentials:      c.Credentials,
			Scrub:            scrub,
			Limiter:          e.limiters.Get(c.Tenant.ID(), m.ID, m.RateLimit),
			MaxResponseBytes: e.limits.MaxResponseBytes,
			Sleep:            e.cfg.Sleep,
			Timeout:          30 * time.Second,
		}),
		Logs: hostfns.NewLog(e.log.With("tenant", c.Tenant.ID(), "connection", c.ID), scrub),
	}
}

// decodeOutput decodes a module's output: exactly one JSON value of the
// export's type. A module is outside input; a bad output is a CallError.
func decodeOutput(export string, out []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(out))
	if err := dec.Decode(v); err != nil {
		return &CallError{Export: export, Kind: ErrBadOutput, Detail: err.Error()}
	}
	if dec.More() {
		return &CallError{Export: export, Kind: ErrBadOutput, Detail: "trailing data after the JSON value"}
	}
	return nil
}
