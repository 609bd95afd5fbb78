package connections

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/store"
)

// Connection states.
const (
	StatePending  = "pending"
	StateActive   = "active"
	StateError    = "error"
	StateDisabled = "disabled"
)

// Connection is the stored connection record; secrets are never in it.
type Connection = store.Connection

// Modules loads connector versions (the registry implements it).
type Modules interface {
	Load(ctx context.Context, connectorID, version string) (*engine.Module, error)
}

// Secrets stores a connection's credentials sealed (the secrets package
// implements it). Values go in by name and come out together.
type Secrets interface {
	Put(ctx context.Context, t *store.Tenant, conn, name, value string) error
	Open(ctx context.Context, t *store.Tenant, conn string) (map[string]string, error)
	DeleteConnection(ctx context.Context, t *store.Tenant, conn string) error
}

// Config configures a Manager. Store, Engine, Modules and Secrets are
// required.
type Config struct {
	Store   *store.DB
	Engine  *engine.Engine
	Modules Modules
	Secrets Secrets
	// Now is the clock of states, token expiry and records (nil =
	// time.Now).
	Now func() time.Time
	// Logger receives state changes (nil discards).
	Logger *slog.Logger
	// StateTTL is how long an OAuth state waits for its callback
	// (0 = 10 minutes).
	StateTTL time.Duration
	// RefreshBefore renews an access token this long before it expires
	// (0 = 1 minute).
	RefreshBefore time.Duration
	// MinInterval is the shortest periodic sync interval accepted
	// (0 = 1 minute).
	MinInterval time.Duration
}

// Manager creates, authorizes and hands out connections. It is safe for
// concurrent use.
type Manager struct {
	cfg Config
	log *slog.Logger

	mu    sync.Mutex
	cells map[string]*tokenCell // by tenant/connection: shared OAuth tokens
}

// New returns a Manager; it does no I/O.
func New(cfg Config) (*Manager, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("connections: Config.Store is required")
	case cfg.Engine == nil:
		return nil, errors.New("connections: Config.Engine is required")
	case cfg.Modules == nil:
		return nil, errors.New("connections: Config.Modules is required")
	case cfg.Secrets == nil:
		return nil, errors.New("connections: Config.Secrets is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.StateTTL <= 0 {
		cfg.StateTTL = 10 * time.Minute
	}
	if cfg.RefreshBefore <= 0 {
		cfg.RefreshBefore = time.Minute
	}
	if cfg.MinInterval <= 0 {
		cfg.MinInterval = time.Minute
	}
	return &Manager{cfg: cfg, log: cfg.Logger, cells: map[string]*tokenCell{}}, nil
}

// CreateRequest is a new connection.
type CreateRequest struct {
	// ID is the connection id (^[a-z0-9][a-z0-9_-]{0,62}$); empty picks
	// a random one.
	ID        string
	Connector string
	Version   string
	// Scopes are the scopes granted, a subset of the manifest's.
	Scopes []string
	Config protocol.Config
	// Credentials by name: client_id and client_secret for the OAuth2
	// kinds, api_key for api_key, and any secret the connector names in
	// a {{secret:NAME}} header.
	Credentials map[string]string
	// Interval is the period of scheduled syncs (0 = none).
	Interval           time.Duration
	PersistentIndexing *bool
	// Fields narrows the manifest's allow-list per object type; each
	// list must be a subset of the type's fields (see minimise.go).
	Fields map[string][]string
	// RetentionDays overrides the manifest's retention_days per object
	// type (0 = keep).
	RetentionDays map[string]int
}

// Create stores and authorizes a new connection (see the package
// documentation). It returns the connection as stored: active, or
// pending for the authorization-code kind.
func (m *Manager) Create(ctx context.Context, t *store.Tenant, req CreateRequest) (Connection, error) {
	mod, err := m.module(ctx, req.Connector, req.Version)
	if err != nil {
		return Connection{}, err
	}
	if err := m.validateCreate(mod.Manifest, &req); err != nil {
		return Connection{}, err
	}
	if req.ID == "" {
		req.ID = newID()
	}
	now := m.cfg.Now()
	c := Connection{
		ID: req.ID, Tenant: t.ID(), Connector: req.Connector, Version: req.Version,
		Scopes: req.Scopes, Config: req.Config, State: StatePending, StateReason: "awaiting authorization",
		Interval: req.Interval, PersistentIndexing: req.PersistentIndexing, CreatedAt: now, UpdatedAt: now,
		Fields: req.Fields, RetentionDays: req.RetentionDays,
	}
	if mod.Manifest.Auth.Kind == protocol.AuthOAuth2AuthorizationCode {
		c.StateReason = "awaiting the tenant admin's consent (StartOAuth)"
	}
	if err := t.CreateConnection(ctx, c); err != nil {
		if errors.Is(err, store.ErrExists) {
			return Connection{}, fmt.Errorf("connections: connection %q exists: %w", c.ID, ErrConflict)
		}
		return Connection{}, storeErr(c.ID, err)
	}
	// From here on a failure removes what was written: a connection that
	// did not authorize at creation is not left behind.
	undo := func(cause error) (Connection, error) {
		ctx := context.WithoutCancel(ctx)
		return Connection{}, errors.Join(cause, m.cfg.Secrets.DeleteConnection(ctx, t, c.ID), ignoreNotFound(t.DeleteConnection(ctx, c.ID)))
	}
	for name, value := range req.Credentials {
		if err := m.cfg.Secrets.Put(ctx, t, c.ID, name, value); err != nil {
			return undo(fmt.Errorf("connections: store credential %q: %w", name, err))
		}
	}
	if mod.Manifest.Auth.Kind == protocol.AuthOAuth2AuthorizationCode {
		return c, nil
	}
	out, err := m.authorize(ctx, t, c, mod)
	if err != nil {
		return undo(err)
	}
	return out, nil
}

// Get returns one connection.
func (m *Manager) Get(ctx context.Context, t *store.Tenant, id string) (Connection, error) {
	c, err := t.Connection(ctx, id)
	return c, storeErr(id, err)
}

// ListOptions select a page of List.
type ListOptions struct {
	// After is the cursor: the next value of the previous page.
	After string
	// Limit is the page size (0 = 100, at most 1000).
	Limit int
}

// List returns the tenant's connections in id order, a page at a time;
// next is "" after the last page.
func (m *Manager) List(ctx context.Context, t *store.Tenant, o ListOptions) (page []Connection, next string, err error) {
	page, next, err = t.Connections(ctx, o.After, o.Limit)
	if errors.Is(err, store.ErrInvalid) {
		return nil, "", &FieldError{Field: "after", Reason: "not a cursor of this listing", Err: err}
	}
	return page, next, err
}

// UpdateRequest changes a connection; a nil field keeps its value.
type UpdateRequest struct {
	Scopes             []string
	Config             protocol.Config // replaces the whole config
	Interval           *time.Duration
	PersistentIndexing *bool
	// Fields replaces the narrowed allow-lists; nil keeps them, an empty
	// map removes them.
	Fields map[string][]string
	// RetentionDays replaces the retention overrides; nil keeps them, an
	// empty map removes them.
	RetentionDays map[string]int
}

// Update changes scopes, config, interval or indexing. A change of scopes
// or config re-authorizes an active or failed connection, since the
// connector's answer (account, needed scopes) may change with them.
func (m *Manager) Update(ctx context.Context, t *store.Tenant, id string, req UpdateRequest) (Connection, error) {
	cur, err := m.Get(ctx, t, id)
	if err != nil {
		return cur, err
	}
	mod, err := m.module(ctx, cur.Connector, cur.Version)
	if err != nil {
		return cur, err
	}
	if err := m.validateUpdate(mod.Manifest, &req); err != nil {
		return cur, err
	}
	reauth := req.Scopes != nil || req.Config != nil
	c, err := m.update(ctx, t, id, func(c *Connection) error {
		if req.Scopes != nil {
			c.Scopes = req.Scopes
		}
		if req.Config != nil {
			c.Config = req.Config
		}
		if req.Interval != nil {
			c.Interval = *req.Interval
		}
		if req.PersistentIndexing != nil {
			c.PersistentIndexing = req.PersistentIndexing
		}
		if req.Fields != nil {
			c.Fields = req.Fields
			if len(req.Fields) == 0 {
				c.Fields = nil
			}
		}
		if req.RetentionDays != nil {
			c.RetentionDays = req.RetentionDays
			if len(req.RetentionDays) == 0 {
				c.RetentionDays = nil
			}
		}
		return nil
	})
	if err != nil || !reauth || (c.State != StateActive && c.State != StateError) {
		return c, err
	}
	return m.authorize(ctx, t, c, mod)
}

// PutCredentials stores (rotates) credentials of a connection, then
// authorizes it again unless it is disabled or still awaiting OAuth
// consent.
func (m *Manager) PutCredentials(ctx context.Context, t *store.Tenant, id string, creds map[string]string) (Connection, error) {
	c, err := m.Get(ctx, t, id)
	if err != nil {
		return c, err
	}
	if err := checkCredentialNames(creds); err != nil {
		return c, err
	}
	for name, value := range creds {
		if err := m.cfg.Secrets.Put(ctx, t, id, name, value); err != nil {
			return c, fmt.Errorf("connections: store credential %q: %w", name, err)
		}
	}
	m.dropToken(t, id, false)
	if c.State == StateDisabled {
		return c, nil
	}
	mod, err := m.module(ctx, c.Connector, c.Version)
	if err != nil {
		return c, err
	}
	if c.State == StatePending && mod.Manifest.Auth.Kind == protocol.AuthOAuth2AuthorizationCode {
		return c, nil // still awaiting consent
	}
	return m.authorize(ctx, t, c, mod)
}

// Authorize runs the connection's authorization again: it moves a
// failed, disabled or active connection to active (or error, with the
// reason). An authorization-code connection needs its OAuth tokens first.
func (m *Manager) Authorize(ctx context.Context, t *store.Tenant, id string) (Connection, error) {
	c, err := m.Get(ctx, t, id)
	if err != nil {
		return c, err
	}
	mod, err := m.module(ctx, c.Connector, c.Version)
	if err != nil {
		return c, err
	}
	return m.authorize(ctx, t, c, mod)
}

// Disable stops a connection from being used; its binding and secrets
// stay, and Authorize enables it again.
func (m *Manager) Disable(ctx context.Context, t *store.Tenant, id string) (Connection, error) {
	return m.setState(ctx, t, id, StateDisabled, "disabled by the tenant admin")
}

// Delete removes a connection, its secrets and its account binding. The
// store's delete also takes, in the same transaction, what a connection
// created later under the same id must not inherit: the webhook endpoint
// (its signing secrets are sealed inside the record, not in the vault),
// check schedules, pending inbox events, stream checkpoints and action
// idempotency keys; an interrupted sync or backfill run ends as failed
// at the manager's clock, so the new connection cannot resume it.
// History stays. Action runs asked of the old connection are refused by
// package actions when approved or due.
func (m *Manager) Delete(ctx context.Context, t *store.Tenant, id string) error {
	if _, err := m.Get(ctx, t, id); err != nil {
		return err
	}
	// Secrets first: a failure then leaves a connection to delete again,
	// never secrets without a connection.
	if err := m.cfg.Secrets.DeleteConnection(ctx, t, id); err != nil {
		return fmt.Errorf("connections: delete secrets of %q: %w", id, err)
	}
	m.dropToken(t, id, true)
	if err := t.DeleteConnectionAt(ctx, id, m.cfg.Now()); err != nil {
		return storeErr(id, err)
	}
	m.log.Info("connection deleted", "tenant", t.ID(), "connection", id)
	return nil
}

// module loads a connector version; a failure names the request field.
func (m *Manager) module(ctx context.Context, connector, version string) (*engine.Module, error) {
	switch {
	case connector == "":
		return nil, &FieldError{Field: "connector", Reason: "is required"}
	case version == "":
		return nil, &FieldError{Field: "version", Reason: "is required"}
	}
	mod, err := m.cfg.Modules.Load(ctx, connector, version)
	if err != nil {
		return nil, &FieldError{Field: "version", Reason: fmt.Sprintf("connector %q version %q cannot be loaded", connector, version), Err: err}
	}
	return mod, nil
}

// update applies fn to the stored connection, retrying on a concurrent
// write, and stamps UpdatedAt.
func (m *Manager) update(ctx context.Context, t *store.Tenant, id string, fn func(*Connection) error) (Connection, error) {
	var (
		c   Connection
		err error
	)
	for range 5 {
		c, err = t.UpdateConnection(ctx, id, func(c *Connection) error {
			c.UpdatedAt = m.cfg.Now()
			return fn(c)
		})
		if !errors.Is(err, store.ErrConflict) {
			break
		}
	}
	return c, storeErr(id, err)
}

// setState moves a connection to state with reason.
func (m *Manager) setState(ctx context.Context, t *store.Tenant, id, state, reason string) (Connection, error) {
	c, err := m.update(ctx, t, id, func(c *Connection) error {
		c.State, c.StateReason = state, truncate(reason, 1000)
		return nil
	})
	if err == nil {
		m.log.Info("connection state", "tenant", t.ID(), "connection", id, "state", state, "reason", c.StateReason)
	}
	return c, err
}

// storeErr maps the store's errors to this package's sentinels.
func storeErr(id string, err error) error {
	var bound *store.AccountBoundError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("connections: connection %q: %w", id, ErrNotFound)
	case errors.As(err, &bound):
		return fmt.Errorf("connections: connection %q: the remote account is bound to another tenant: %w", id, ErrConflict)
	case errors.Is(err, store.ErrInvalid):
		var verr *store.ValidationError
		if errors.As(err, &verr) {
			return &FieldError{Field: strings.TrimPrefix(verr.Field, "connection."), Reason: verr.Reason, Err: err}
		}
	}
	return fmt.Errorf("connections: connection %q: %w", id, err)
}

func ignoreNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// newID is a random connection id: "c-" and 16 base32 characters.
func newID() string {
	var b [10]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return "c-" + strings.ToLower(base32.StdEncoding.EncodeToString(b[:]))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xc0 == 0x80 { // do not split a UTF-8 sequence
		n--
	}
	return s[:n] + "…"
}
