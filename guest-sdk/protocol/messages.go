package protocol

import "encoding/json"

// Config is a connection's non-secret configuration, as given to the
// connector. Secrets are never part of it: a connector refers to them by
// name (see HTTPRequest).
type Config map[string]string

// DiscoverResponse is the output of discover(). It must agree with the
// manifest: same id and version, same object types, edge types, streams,
// actions, checks and scopes.
type DiscoverResponse struct {
	ID           string       `json:"id"`
	Version      string       `json:"version"`
	Types        []string     `json:"types"`
	Scopes       []Scope      `json:"scopes"`
	Streams      []Stream     `json:"streams,omitempty"`
	ObjectTypes  []ObjectType `json:"object_types,omitempty"`
	EdgeTypes    []EdgeType   `json:"edge_types,omitempty"`
	Actions      []Action     `json:"actions,omitempty"`
	Checks       []Check      `json:"checks,omitempty"`
	Capabilities []string     `json:"capabilities,omitempty"`
}

// AuthorizeRequest is the input of authorize().
type AuthorizeRequest struct {
	GrantedScopes []string `json:"granted_scopes"`
	Config        Config   `json:"config,omitempty"`
}

// AuthorizeResponse is the output of authorize(): the remote account the
// credentials belong to (the tenancy binding) and the scopes the
// connector actually needs out of those granted.
type AuthorizeResponse struct {
	AccountID    string   `json:"account_id"`
	NeededScopes []string `json:"needed_scopes"`
}

// SyncRequest is the input of sync(). An empty Cursor starts a full
// snapshot of the stream.
type SyncRequest struct {
	Stream   string `json:"stream"`
	Cursor   string `json:"cursor,omitempty"`
	Config   Config `json:"config,omitempty"`
	PageSize int    `json:"page_size,omitempty"`
}

// SyncResponse is the output of sync() and backfill(). Objects travel
// through sluice_emit during the call, never in the response.
type SyncResponse struct {
	NextCursor string `json:"next_cursor"`
	HasMore    bool   `json:"has_more"`
}

// Range is a half-open time interval [From, To) in RFC 3339.
type Range struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// BackfillRequest is the input of backfill(). Every object emitted must
// have a created_at inside Range; the host rejects any other.
type BackfillRequest struct {
	Stream   string `json:"stream"`
	Range    Range  `json:"range"`
	Cursor   string `json:"cursor,omitempty"`
	Config   Config `json:"config,omitempty"`
	PageSize int    `json:"page_size,omitempty"`
}

// HealthRequest is the input of health(): the connection's config, so
// the connector knows which remote to check. Added after v1 shipped
// without it; a host may send "{}" or no input, and a connector must
// then answer from what it has (or fail with a config error).
type HealthRequest struct {
	Config Config `json:"config,omitempty"`
}

// HealthResponse is the output of health().
type HealthResponse struct {
	Reachable bool              `json:"reachable"`
	Details   map[string]string `json:"details,omitempty"`
}

// WebhookRequest is the input of webhook(): a push event already
// authenticated and de-duplicated by the host.
type WebhookRequest struct {
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
	Config  Config            `json:"config,omitempty"`
}

// WebhookResponse is the output of webhook().
type WebhookResponse struct {
	EventIDs []string `json:"event_ids"`
}

// ExecuteRequest is the input of execute().
type ExecuteRequest struct {
	Action        string          `json:"action"`
	CorrelationID string          `json:"correlation_id"`
	Params        json.RawMessage `json:"params,omitempty"`
	DryRun        bool            `json:"dry_run,omitempty"`
	Config        Config          `json:"config,omitempty"`
}

// ExecuteResponse is the output of execute().
type ExecuteResponse struct {
	RemoteChangeIDs []string          `json:"remote_change_ids,omitempty"`
	Outputs         map[string]string `json:"outputs,omitempty"`
}

// VerifyRequest is the input of verify().
type VerifyRequest struct {
	Check  string          `json:"check"`
	Params json.RawMessage `json:"params,omitempty"`
	Config Config          `json:"config,omitempty"`
}

// Verify statuses.
const (
	VerifyPass  = "pass"
	VerifyFail  = "fail"
	VerifyError = "error"
)

// VerifyResponse is the output of verify().
type VerifyResponse struct {
	Status   string            `json:"status"`
	Evidence map[string]string `json:"evidence,omitempty"`
}

// ReplayRequest is the input of replay(): a dead-letter item, handed back
// to the connector. Kind names the export that failed ("sync",
// "backfill", "webhook", "execute") and Input is that export's input.
type ReplayRequest struct {
	ItemID string          `json:"item_id"`
	Kind   string          `json:"kind"`
	Input  json.RawMessage `json:"input"`
}

// ErrorResponse is what a connector may put in its Extism error to
// classify a failure; Type names a runbook.
type ErrorResponse struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}
