package protocol

import "encoding/json"

// Manifest is connector.json, the partner's declaration of what a
// connector is and may do. The host enforces it: hosts and methods it did
// not declare are unreachable, objects it did not declare are refused,
// fields outside a type's allow-list are dropped.
type Manifest struct {
	ID          string `json:"id"`
	Version     string `json:"version"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	// Level is the certification level the partner claims: bronze,
	// silver or gold.
	Level       string       `json:"level,omitempty"`
	Types       []string     `json:"types"`
	Scopes      []Scope      `json:"scopes"`
	Hosts       []HostRule   `json:"hosts"`
	Auth        Auth         `json:"auth"`
	Streams     []Stream     `json:"streams,omitempty"`
	ObjectTypes []ObjectType `json:"object_types,omitempty"`
	EdgeTypes   []EdgeType   `json:"edge_types,omitempty"`
	Actions     []Action     `json:"actions,omitempty"`
	Checks      []Check      `json:"checks,omitempty"`
	// RetentionDays is the default retention window of stored objects;
	// zero keeps them until deleted.
	RetentionDays      int         `json:"retention_days,omitempty"`
	PersistentIndexing *bool       `json:"persistent_indexing,omitempty"`
	RateLimit          RateLimit   `json:"rate_limit,omitempty"`
	Runbooks           []Runbook   `json:"runbooks,omitempty"`
	Migration          *Migration  `json:"migration,omitempty"`
	Throughput         *Throughput `json:"throughput,omitempty"`
}

// Scope is a permission the connector asks for, with the reason shown to
// the tenant admin who grants it.
type Scope struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// HostRule allows requests to one host name (exact, no wildcards) with the
// listed HTTP methods. Scheme defaults to https.
type HostRule struct {
	Host    string   `json:"host"`
	Methods []string `json:"methods"`
	Scheme  string   `json:"scheme,omitempty"`
}

// Auth kinds.
const (
	AuthOAuth2ClientCredentials = "oauth2_client_credentials"
	AuthOAuth2AuthorizationCode = "oauth2_authorization_code"
	AuthAPIKey                  = "api_key"
	AuthNone                    = "none"
)

// Auth declares how the host obtains the connection's credential.
type Auth struct {
	Kind string `json:"kind"`
	// TokenURL, AuthorizeURL and Scopes apply to the OAuth2 kinds. The
	// URLs may contain {{config:KEY}}, filled from the connection config.
	TokenURL     string   `json:"token_url,omitempty"`
	AuthorizeURL string   `json:"authorize_url,omitempty"`
	Scopes       []string `json:"scopes,omitempty"`
	// Header is the header an API key goes in (default Authorization,
	// as "Bearer KEY").
	Header string `json:"header,omitempty"`
}

// Stream is a unit of sync: one call sequence of sync() with its own
// cursor. It names the object and edge types it produces and the scopes
// it needs; a stream whose scopes were not granted is not synced.
type Stream struct {
	Name        string   `json:"name"`
	ObjectTypes []string `json:"object_types,omitempty"`
	EdgeTypes   []string `json:"edge_types,omitempty"`
	Scopes      []string `json:"scopes,omitempty"`
	Backfill    bool     `json:"backfill,omitempty"`
}

// PII classes of a field.
const (
	PIINone       = "none"
	PIIContact    = "contact"
	PIIIdentifier = "identifier"
	PIISensitive  = "sensitive"
	PIICredential = "credential"
)

// ObjectType declares one kind of object: its JSON Schema and its field
// policy. Fields is the allow-list: a field of the emitted data not named
// there is dropped by the host before it is stored, hashed or receipted.
type ObjectType struct {
	Name   string                 `json:"name"`
	Schema json.RawMessage        `json:"schema"`
	Fields map[string]FieldPolicy `json:"fields"`
}

// FieldPolicy is the policy of one top-level field.
type FieldPolicy struct {
	PII string `json:"pii"`
}

// EdgeType declares a relation between two object types.
type EdgeType struct {
	Name string `json:"name"`
	From string `json:"from"`
	To   string `json:"to"`
}

// Action declares a change the connector can make in the remote system.
type Action struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Destructive bool            `json:"destructive,omitempty"`
	Scopes      []string        `json:"scopes,omitempty"`
	Params      json.RawMessage `json:"params,omitempty"`
	// Inverse names the action that undoes this one (grant → revoke).
	Inverse string `json:"inverse,omitempty"`
}

// Check declares a read-only verify check and the control it evidences.
type Check struct {
	Name        string   `json:"name"`
	Control     string   `json:"control"`
	Description string   `json:"description,omitempty"`
	Scopes      []string `json:"scopes,omitempty"`
}

// RateLimit is the connector's declared request budget against its
// remote system, per tenant.
type RateLimit struct {
	RequestsPerSecond float64 `json:"requests_per_second,omitempty"`
	Burst             int     `json:"burst,omitempty"`
}

// Runbook points at the runbook for one error type the connector can
// report.
type Runbook struct {
	ErrorType string `json:"error_type"`
	Path      string `json:"path"`
}

// Migration is required of a major version that breaks a schema.
type Migration struct {
	From  string `json:"from"`
	Notes string `json:"notes"`
}

// Throughput is the floor a backfill must reach under certification.
type Throughput struct {
	BackfillRecordsPerSecond float64 `json:"backfill_records_per_second,omitempty"`
}
