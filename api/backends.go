package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/store"
)

// The interfaces below hold only what the handlers call. A backend's
// errors reach the client through classify (problem.go): the API's own
// sentinels and *ValidationError, a *StatusError an adapter decided, the
// documented sentinels and typed errors of the domain packages
// (domain_errors.go), and the errors of store, manifest and engine.
// Anything else is a 500, logged and not shown.

// Registry is the connector registry (package registry).
type Registry interface {
	// Upload validates and stores a connector bundle; see Upload.
	Upload(ctx context.Context, u Upload) (Version, error)
	// Connectors lists connectors, only partner's if partner is set.
	Connectors(ctx context.Context, partner string) ([]Connector, error)
	// Connector returns one connector; the API reads its Partner to
	// decide whether a partner key may see it.
	Connector(ctx context.Context, id string) (Connector, error)
	// Versions lists a connector's versions, oldest first. Manifest may
	// be left empty in the list.
	Versions(ctx context.Context, connector string) ([]Version, error)
	// Version returns one version with its manifest.
	Version(ctx context.Context, connector, version string) (Version, error)
	// Module returns the module bytes of a version.
	Module(ctx context.Context, connector, version string) ([]byte, error)
	// Runbook returns one runbook (Markdown) of a version.
	Runbook(ctx context.Context, connector, version, name string) ([]byte, error)
}

// Upload is one bundle upload: module.wasm, connector.json and
// runbooks/*.md, as multipart/form-data (one part per file, named by
// its path) or as a tar.gz (application/gzip).
type Upload struct {
	// Partner owns the connector: the partner of a partner key, or the
	// ?partner= of an admin upload ("" if none). Uploading a version of a
	// connector another partner owns must fail with ErrForbidden.
	Partner string
	// UploadedBy is the id of the key that uploaded.
	UploadedBy string
	// ContentType is the request's Content-Type, parameters included
	// (the multipart boundary).
	ContentType string
	// Body is the request body, capped at Config.MaxBundleBytes; reading
	// past the cap fails with an *http.MaxBytesError, which the API maps
	// to 413 if the backend wraps it with %w.
	Body io.Reader
}

// Connector is a registered connector.
type Connector struct {
	ID        string    `json:"id"`
	Partner   string    `json:"partner,omitempty"`
	Name      string    `json:"name,omitempty"`
	Latest    string    `json:"latest"`
	CreatedAt time.Time `json:"created_at"`
}

// Version is one uploaded version of a connector.
type Version struct {
	Connector  string    `json:"connector"`
	Version    string    `json:"version"`
	Digest     string    `json:"digest"`
	Partner    string    `json:"partner,omitempty"`
	UploadedBy string    `json:"uploaded_by"`
	UploadedAt time.Time `json:"uploaded_at"`
	// Certification is the certification level once certified
	// (bronze, silver, gold); empty before.
	Certification string `json:"certification,omitempty"`
	// Manifest is connector.json as uploaded.
	Manifest json.RawMessage `json:"manifest,omitempty"`
	Runbooks []string        `json:"runbooks"`
}

// Connections manages tenants' connections and their authorization
// (package connections). Connections are the store's records; the API
// shows them as Connection. Every method but Create, List and Update has
// the signature of the method of that name of *connections.Manager.
type Connections interface {
	// Create validates the request (connector and version exist, scopes
	// a subset of the manifest's), stores the credentials and authorizes
	// the connection.
	Create(ctx context.Context, t *store.Tenant, req ConnectionRequest) (store.Connection, error)
	// List returns every connection of the tenant, in id order.
	List(ctx context.Context, t *store.Tenant) ([]store.Connection, error)
	Get(ctx context.Context, t *store.Tenant, id string) (store.Connection, error)
	// Update changes scopes, config, interval or indexing, and
	// re-authorizes on a change of scopes or config.
	Update(ctx context.Context, t *store.Tenant, id string, req ConnectionUpdate) (store.Connection, error)
	// Delete removes a connection, its secrets and its account binding.
	Delete(ctx context.Context, t *store.Tenant, id string) error
	// Authorize runs the authorization again (and enables a disabled
	// connection); Disable stops the connection from being used.
	Authorize(ctx context.Context, t *store.Tenant, id string) (store.Connection, error)
	Disable(ctx context.Context, t *store.Tenant, id string) (store.Connection, error)
	// PutCredentials stores (rotates) secrets and re-authorizes: the
	// manager drops the tokens the old secrets earned, which is why the
	// secrets route goes through it rather than to the vault.
	PutCredentials(ctx context.Context, t *store.Tenant, id string, creds map[string]string) (store.Connection, error)
	// Connection returns what the engine needs to call the connection's
	// connector, credentials by reference; the health route calls
	// Engine.Health with it.
	Connection(ctx context.Context, t *store.Tenant, id string) (engine.Connection, error)
	// StartOAuth begins the authorization-code flow (state bound to the
	// tenant and connection, PKCE) and returns the provider URL to open.
	StartOAuth(ctx context.Context, t *store.Tenant, id, redirectURI string) (authorizeURL string, err error)
	// CompleteOAuth and DenyOAuth finish the flow from the provider's
	// redirect; the state names the tenant and connection.
	CompleteOAuth(ctx context.Context, state, code string) (tenant, connection string, err error)
	DenyOAuth(ctx context.Context, state, errorCode, description string) (tenant, connection string, err error)
}

// ConnectionRequest is the body of POST /v1/tenants/{tenant}/connections.
type ConnectionRequest struct {
	// ID is the connection id; empty lets the backend choose one.
	ID        string            `json:"id,omitempty"`
	Connector string            `json:"connector"`
	Version   string            `json:"version"`
	Scopes    []string          `json:"scopes"`
	Config    map[string]string `json:"config,omitempty"`
	// Credentials are secret values by name (client_id, client_secret,
	// api_key…). They go to the vault and never come back.
	Credentials SecretValues `json:"credentials,omitempty"`
	// IntervalSeconds is the period of scheduled syncs; 0 means none.
	IntervalSeconds int `json:"interval_seconds,omitempty"`
	// PersistentIndexing overrides the manifest's flag; absent keeps it.
	PersistentIndexing *bool `json:"persistent_indexing,omitempty"`
	// Fields narrows the manifest's allow-list per object type (data
	// minimisation); each list must be a subset of the type's fields.
	Fields map[string][]string `json:"fields,omitempty"`
	// RetentionDays overrides the manifest's retention_days per object
	// type (0 = keep until deleted).
	RetentionDays map[string]int `json:"retention_days,omitempty"`
}

// ConnectionUpdate is the body of PATCH …/connections/{connection}; an
// absent field keeps its value.
type ConnectionUpdate struct {
	Scopes             []string          `json:"scopes,omitempty"`
	Config             map[string]string `json:"config,omitempty"`
	IntervalSeconds    *int              `json:"interval_seconds,omitempty"`
	PersistentIndexing *bool             `json:"persistent_indexing,omitempty"`
	// Fields replaces the narrowed allow-lists; {} removes them.
	Fields map[string][]string `json:"fields,omitempty"`
	// RetentionDays replaces the retention overrides; {} removes them.
	RetentionDays map[string]int `json:"retention_days,omitempty"`
}

// Connection is a tenant's connection as the API shows it. It never
// holds a credential.
type Connection struct {
	ID                 string              `json:"id"`
	Tenant             string              `json:"tenant"`
	Connector          string              `json:"connector"`
	Version            string              `json:"version"`
	Scopes             []string            `json:"scopes"`
	Config             map[string]string   `json:"config,omitempty"`
	State              string              `json:"state"` // pending, active, error, disabled
	StateReason        string              `json:"state_reason,omitempty"`
	AccountID          string              `json:"account_id,omitempty"`
	IntervalSeconds    int64               `json:"interval_seconds,omitempty"`
	PersistentIndexing *bool               `json:"persistent_indexing,omitempty"`
	Fields             map[string][]string `json:"fields,omitempty"`
	RetentionDays      map[string]int      `json:"retention_days,omitempty"`
	CreatedAt          time.Time           `json:"created_at"`
	UpdatedAt          time.Time           `json:"updated_at,omitzero"`
}

// connectionView is the API's view of a stored connection.
func connectionView(c store.Connection) Connection {
	scopes := c.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return Connection{
		ID: c.ID, Tenant: c.Tenant, Connector: c.Connector, Version: c.Version, Scopes: scopes,
		Config: c.Config, State: c.State, StateReason: c.StateReason, AccountID: c.AccountID,
		IntervalSeconds: int64(c.Interval / time.Second), PersistentIndexing: c.PersistentIndexing,
		Fields: c.Fields, RetentionDays: c.RetentionDays,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
}

// Scheduler starts and tracks runs (package scheduler).
type Scheduler interface {
	// Sync queues a sync of the connection and returns the run id at
	// once; GET …/runs/{run} must find it from then on.
	Sync(ctx context.Context, t *store.Tenant, connection string, req SyncRequest) (runID string, err error)
	// Backfill queues a backfill over r (RFC 3339, from < to).
	Backfill(ctx context.Context, t *store.Tenant, connection string, r protocol.Range) (runID string, err error)
	// Runs lists a connection's runs, newest first, at most limit.
	Runs(ctx context.Context, t *store.Tenant, connection string, limit int) ([]store.Run, error)
	// Run returns one run of the tenant.
	Run(ctx context.Context, t *store.Tenant, id string) (store.Run, error)
	// Pending counts the connection's queued runs, for its health.
	Pending(ctx context.Context, t *store.Tenant, connection string) (int, error)
}

// SyncRequest is the (optional) body of POST …/sync.
type SyncRequest struct {
	// Full starts every stream from scratch; objects not seen are
	// deleted when the snapshot finishes.
	Full bool `json:"full,omitempty"`
}

// BackfillRequest is the body of POST …/backfill.
type BackfillRequest struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// SecretRequest is the body of PUT …/secrets/{secret}.
type SecretRequest struct {
	Value SecretString `json:"value"`
}

// HostStats is what the host knows about a connection beyond its
// connector's own health(): remote latency and rate-limit state (from
// the engine's sluice_http) and dead letters. Optional.
type HostStats interface {
	ConnectionStats(ctx context.Context, t *store.Tenant, connector, connection string) (ConnectionStats, error)
}

// ConnectionStats is one connection's host-side view.
type ConnectionStats struct {
	LatencyP50, LatencyP95 time.Duration
	// TokensLeft is the rate limiter's bucket; Last429 the last 429 the
	// remote sent; BlockedUntil the end of a Retry-After wait.
	TokensLeft            float64
	Last429, BlockedUntil time.Time
	DLQItems              int
}

// SecretValues are secret values by name. Printing, logging or encoding
// them shows only their names, so a request that reaches a log line or
// a response by mistake leaks nothing.
type SecretValues map[string]string

func (s SecretValues) String() string {
	return "[" + strconv.Itoa(len(s)) + " redacted secrets]"
}

// GoString redacts %#v as well.
func (s SecretValues) GoString() string { return s.String() }

// LogValue redacts in slog.
func (s SecretValues) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON writes the names with redacted values.
func (s SecretValues) MarshalJSON() ([]byte, error) {
	out := make(map[string]string, len(s))
	for k := range s {
		out[k] = redacted
	}
	return json.Marshal(out)
}

// SecretString is one secret value, redacted the same way.
type SecretString string

const redacted = "[redacted]"

func (s SecretString) String() string               { return redacted }
func (s SecretString) GoString() string             { return redacted }
func (s SecretString) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (s SecretString) MarshalJSON() ([]byte, error) { return json.Marshal(redacted) }
