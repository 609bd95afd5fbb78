package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// Connection records and the two platform records of the connection flow
// (testdata/golden-connections pins the exact bytes):
//
//	t/{tenant}/cn/{conn}                     Connection, JSON.
//	p/conn/acct/{connector}/{sha256(acct)}   AccountBinding, JSON: the one tenant holding a remote
//	                                         account of a connector, and which of its connections.
//	                                         Derived from the Connection records and written in the
//	                                         same transaction as each of them, so it never drifts.
//	p/conn/oauth/{sha256(state)}             OAuthState, JSON, single-use, with a Badger TTL of an
//	                                         hour past its ExpiresAt so abandoned flows vanish.
//
// The remote account id and the OAuth state are outside input of any
// shape, so their keys hold a SHA-256 (lower-case hex): a key segment
// stays a name, and a state read from a dump of the database cannot be
// replayed.
const (
	kConnection     = "cn/"
	kAccountBinding = "conn/acct/"
	kOAuthState     = "conn/oauth/"
)

// Bounds of a Connection's free-form fields.
const (
	maxConfigBytes = 64 << 10 // keys plus values of Connection.Config
	maxFieldLen    = 1024     // account id, state reason, redirect URI, verifier
)

// oauthStateGrace keeps an OAuth state past its ExpiresAt, so the caller
// can tell an expired state from an unknown one.
const oauthStateGrace = time.Hour

// Connection is a tenant's connection to a connector version. The store
// keeps the record and the account binding index; the meaning of State
// and the rules between states belong to package connections. Secrets
// are never part of it.
type Connection struct {
	ID        string `json:"id"`
	Tenant    string `json:"tenant"`
	Connector string `json:"connector"`
	Version   string `json:"version"`
	// Scopes are the scopes the tenant granted.
	Scopes      []string        `json:"scopes"`
	Config      protocol.Config `json:"config,omitempty"`
	State       string          `json:"state"`
	StateReason string          `json:"state_reason,omitempty"`
	// AccountID is the remote account authorize() returned; while it is
	// set, the connection holds the account's binding.
	AccountID string `json:"account_id,omitempty"`
	// Interval is the period of scheduled syncs; zero means none.
	Interval time.Duration `json:"interval,omitempty"`
	// PersistentIndexing overrides the manifest's flag; nil keeps it.
	PersistentIndexing *bool `json:"persistent_indexing,omitempty"`
	// Fields narrows the manifest's allow-list per object type (data
	// minimisation, store/minimise.go); a type not named keeps the
	// manifest's list. Package connections checks it is a subset.
	Fields map[string][]string `json:"fields,omitempty"`
	// RetentionDays overrides the manifest's retention_days per object
	// type (0 = keep until deleted); package retention purges by it.
	RetentionDays map[string]int `json:"retention_days,omitempty"`
	CreatedAt     time.Time      `json:"created_at"`
	UpdatedAt     time.Time      `json:"updated_at"`
}

// AccountBinding says which tenant holds a remote account of a connector.
type AccountBinding struct {
	Connector string `json:"connector"`
	AccountID string `json:"account_id"`
	Tenant    string `json:"tenant"`
	// Connections are the tenant's connections bound to the account,
	// sorted.
	Connections []string `json:"connections"`
}

// OAuthState is a pending OAuth2 authorization-code flow, found by the
// state value the authorization server echoes back.
type OAuthState struct {
	Tenant     string `json:"tenant"`
	Connection string `json:"connection"`
	// ConnectionCreatedAt ties the state to one life of the connection
	// id: a connection deleted and created again does not inherit it.
	ConnectionCreatedAt time.Time `json:"connection_created_at"`
	// Verifier is the PKCE code verifier, sent only with the exchange.
	Verifier    string    `json:"verifier"`
	RedirectURI string    `json:"redirect_uri"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
}

func (c *Connection) normalize() {
	c.CreatedAt, c.UpdatedAt = utc(c.CreatedAt), utc(c.UpdatedAt)
}

func (s *OAuthState) normalize() {
	s.ConnectionCreatedAt, s.CreatedAt, s.ExpiresAt = utc(s.ConnectionCreatedAt), utc(s.CreatedAt), utc(s.ExpiresAt)
}

func checkLen(field, v string, max int) error {
	switch {
	case v == "":
		return invalid(field, v, "must be set")
	case len(v) > max:
		return invalid(field, v, fmt.Sprintf("must be at most %d bytes", max))
	}
	return nil
}

// validate checks c as tenant t would store it; it fills in Tenant.
func (t *Tenant) validateConnection(c *Connection) error {
	if c.Tenant == "" {
		c.Tenant = t.id
	}
	err := firstErr(
		checkID("connection.id", c.ID),
		sameAs("connection.tenant", c.Tenant, t.id),
		checkName("connection.connector", c.Connector),
		checkLen("connection.version", c.Version, maxNameLen),
		checkName("connection.state", c.State),
	)
	if err != nil {
		return err
	}
	for i, s := range c.Scopes {
		if err := checkLen(fmt.Sprintf("connection.scopes[%d]", i), s, maxNameLen); err != nil {
			return err
		}
	}
	for typ, fields := range c.Fields {
		if err := checkLen("connection.fields", typ, maxNameLen); err != nil {
			return err
		}
		for i, f := range fields {
			if err := checkLen(fmt.Sprintf("connection.fields.%s[%d]", typ, i), f, maxNameLen); err != nil {
				return err
			}
		}
	}
	n := 0
	for k, v := range c.Config {
		n += len(k) + len(v)
	}
	switch {
	case n > maxConfigBytes:
		return invalid("connection.config", "", fmt.Sprintf("must be at most %d bytes", maxConfigBytes))
	case len(c.AccountID) > maxFieldLen:
		return invalid("connection.account_id", c.AccountID, fmt.Sprintf("must be at most %d bytes", maxFieldLen))
	case len(c.StateReason) > maxFieldLen:
		return invalid("connection.state_reason", c.StateReason, fmt.Sprintf("must be at most %d bytes", maxFieldLen))
	case c.Interval < 0:
		return invalid("connection.interval", c.Interval.String(), "must not be negative")
	case c.CreatedAt.IsZero():
		return invalid("connection.created_at", "", "must be set")
	}
	return nil
}

// CreateConnection stores a new connection. The error matches ErrExists
// if the id is taken, or is an *AccountBoundError if c.AccountID is held
// by another tenant; nothing is written then.
func (t *Tenant) CreateConnection(ctx context.Context, c Connection) error {
	if err := t.validateConnection(&c); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return t.db.update("create connection", func(txn *badger.Txn) error {
		key := t.key(kConnection, c.ID)
		if _, err := txn.Get(key); err == nil {
			return fmt.Errorf("store: connection %q: %w", c.ID, ErrExists)
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		return t.putConnectionTxn(txn, nil, &c)
	})
}

// Connection returns one connection; ErrNotFound if there is none.
func (t *Tenant) Connection(ctx context.Context, id string) (Connection, error) {
	var c Connection
	if err := checkID("connection id", id); err != nil {
		return c, err
	}
	err := t.getJSON(ctx, t.key(kConnection, id), "connection", id, &c)
	return c, err
}

// Connections lists the tenant's connections in id order, from just after
// the id after ("" starts at the first), at most limit (0 means 100, at
// most 1000). next is the after of the following page, "" after the last.
func (t *Tenant) Connections(ctx context.Context, after string, limit int) (out []Connection, next string, err error) {
	if after != "" {
		if err := checkID("after", after); err != nil {
			return nil, "", err
		}
	}
	return listAfter(ctx, t, t.prefixOf(kConnection), after, clampLimit(limit), func(c *Connection) string { return c.ID })
}

// UpdateConnection reads a connection, lets fn change it and writes it
// back in one transaction, moving the account binding if AccountID
// changed. ID, Tenant, Connector and CreatedAt cannot change. Nothing is
// written if fn fails (its error is returned as is), if the new account
// is bound to another tenant (*AccountBoundError), or on a concurrent
// write (ErrConflict: call again).
func (t *Tenant) UpdateConnection(ctx context.Context, id string, fn func(*Connection) error) (Connection, error) {
	var c Connection
	if err := checkID("connection id", id); err != nil {
		return c, err
	}
	if err := ctx.Err(); err != nil {
		return c, err
	}
	err := t.db.update("update connection", func(txn *badger.Txn) error {
		old, err := t.loadConnection(txn, id)
		if err != nil {
			return err
		}
		c = old
		c.Scopes = slices.Clone(old.Scopes)
		c.Config = protocol.Config{}
		for k, v := range old.Config {
			c.Config[k] = v
		}
		if err := fn(&c); err != nil {
			return err
		}
		if c.ID != old.ID || c.Tenant != old.Tenant || c.Connector != old.Connector || !c.CreatedAt.Equal(old.CreatedAt) {
			return invalid("connection", id, "id, tenant, connector and created_at cannot change")
		}
		if err := t.validateConnection(&c); err != nil {
			return err
		}
		return t.putConnectionTxn(txn, &old, &c)
	})
	return c, err
}

func (t *Tenant) loadConnection(txn *badger.Txn, id string) (Connection, error) {
	var c Connection
	item, err := txn.Get(t.key(kConnection, id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return c, notFound("connection", id)
	}
	if err != nil {
		return c, err
	}
	err = item.Value(func(v []byte) error { return unmarshal(v, &c) })
	return c, err
}

// putConnectionTxn writes c over old (nil for a new connection) and
// moves the binding when the account changed.
func (t *Tenant) putConnectionTxn(txn *badger.Txn, old, c *Connection) error {
	c.normalize()
	val, err := marshal(c)
	if err != nil {
		return invalid("connection", c.ID, err.Error())
	}
	if old == nil || old.AccountID != c.AccountID {
		if old != nil {
			if err := t.unbindTxn(txn, old); err != nil {
				return err
			}
		}
		if err := t.bindTxn(txn, c); err != nil {
			return err
		}
	}
	return txn.Set(t.key(kConnection, c.ID), val)
}

func (t *Tenant) bindingKey(connector, account string) []byte {
	sum := sha256.Sum256([]byte(account))
	return t.db.Platform().t.key(kAccountBinding, connector, hex.EncodeToString(sum[:]))
}

func getBinding(txn *badger.Txn, key []byte) (AccountBinding, bool, error) {
	var b AccountBinding
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return b, false, nil
	}
	if err != nil {
		return b, false, err
	}
	err = item.Value(func(v []byte) error { return unmarshal(v, &b) })
	return b, err == nil, err
}

// bindTxn adds c to the binding of its account.
func (t *Tenant) bindTxn(txn *badger.Txn, c *Connection) error {
	if c.AccountID == "" {
		return nil
	}
	key := t.bindingKey(c.Connector, c.AccountID)
	b, ok, err := getBinding(txn, key)
	if err != nil {
		return err
	}
	switch {
	case !ok:
		b = AccountBinding{Connector: c.Connector, AccountID: c.AccountID, Tenant: t.id}
	case b.Tenant != t.id:
		return &AccountBoundError{Connector: c.Connector, AccountID: c.AccountID}
	}
	if i, found := slices.BinarySearch(b.Connections, c.ID); !found {
		b.Connections = slices.Insert(b.Connections, i, c.ID)
	}
	val, err := marshal(&b)
	if err != nil {
		return err
	}
	return txn.Set(key, val)
}

// unbindTxn removes c from the binding of its account, and the binding
// with its last connection.
func (t *Tenant) unbindTxn(txn *badger.Txn, c *Connection) error {
	if c.AccountID == "" {
		return nil
	}
	key := t.bindingKey(c.Connector, c.AccountID)
	b, ok, err := getBinding(txn, key)
	if err != nil || !ok || b.Tenant != t.id {
		return err
	}
	b.Connections = slices.DeleteFunc(b.Connections, func(id string) bool { return id == c.ID })
	if len(b.Connections) == 0 {
		return txn.Delete(key)
	}
	val, err := marshal(&b)
	if err != nil {
		return err
	}
	return txn.Set(key, val)
}

// AccountBinding returns the binding of a connector's remote account:
// the tenant that holds it. ErrNotFound if no tenant does.
func (p *Platform) AccountBinding(ctx context.Context, connector, accountID string) (AccountBinding, error) {
	var b AccountBinding
	if err := firstErr(checkName("connector", connector), checkLen("account id", accountID, maxFieldLen)); err != nil {
		return b, err
	}
	err := p.t.getJSON(ctx, p.t.bindingKey(connector, accountID), "account binding", connector+"/"+accountID, &b)
	return b, err
}

func (p *Platform) oauthStateKey(state string) []byte {
	sum := sha256.Sum256([]byte(state))
	return p.t.key(kOAuthState, hex.EncodeToString(sum[:]))
}

// PutOAuthState stores a pending OAuth flow under its state value. The
// record outlives ExpiresAt by an hour (real time) and is then dropped by
// Badger; checking ExpiresAt is the caller's.
func (p *Platform) PutOAuthState(ctx context.Context, state string, s OAuthState) error {
	err := firstErr(
		checkLen("state", state, maxFieldLen),
		checkID("oauth_state.tenant", s.Tenant),
		checkID("oauth_state.connection", s.Connection),
		checkLen("oauth_state.verifier", s.Verifier, maxFieldLen),
		checkLen("oauth_state.redirect_uri", s.RedirectURI, maxFieldLen),
	)
	if err == nil && !s.CreatedAt.Before(s.ExpiresAt) {
		err = invalid("oauth_state.expires_at", s.ExpiresAt.String(), "must be after created_at")
	}
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.normalize()
	val, err := marshal(&s)
	if err != nil {
		return invalid("oauth_state", "", err.Error())
	}
	e := badger.NewEntry(p.oauthStateKey(state), val).WithTTL(s.ExpiresAt.Sub(s.CreatedAt) + oauthStateGrace)
	return p.t.db.update("put oauth state", func(txn *badger.Txn) error { return txn.SetEntry(e) })
}

// TakeOAuthState returns the flow of a state value and deletes it in the
// same transaction, so a state works once: ErrNotFound if it is unknown
// or used, ErrConflict if a concurrent call is taking it. A non-empty
// tenant must be the flow's: a state presented by another tenant is
// ErrNotFound and stays usable by its own.
func (p *Platform) TakeOAuthState(ctx context.Context, state, tenant string) (OAuthState, error) {
	var s OAuthState
	if err := checkLen("state", state, maxFieldLen); err != nil {
		return s, err
	}
	if err := ctx.Err(); err != nil {
		return s, err
	}
	key := p.oauthStateKey(state)
	err := p.t.db.update("take oauth state", func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return notFound("oauth state", "")
		}
		if err != nil {
			return err
		}
		if err := item.Value(func(v []byte) error { return unmarshal(v, &s) }); err != nil {
			return err
		}
		if tenant != "" && s.Tenant != tenant {
			s = OAuthState{}
			return notFound("oauth state", "")
		}
		return txn.Delete(key)
	})
	return s, err
}

// AccountBoundError refuses to bind a remote account that another tenant
// holds. It names neither that tenant nor its connection: one tenant
// learns only that the account is taken. It matches ErrExists.
type AccountBoundError struct {
	Connector string
	AccountID string
}

func (e *AccountBoundError) Error() string {
	return fmt.Sprintf("store: remote account %q of connector %q is bound to another tenant", e.AccountID, e.Connector)
}

// Unwrap makes errors.Is(err, ErrExists) true.
func (e *AccountBoundError) Unwrap() error { return ErrExists }
