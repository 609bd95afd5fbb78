package protocol

import "encoding/json"

// HTTPRequest is the input of sluice_http.
//
// Credentials are injected by reference, never by value: set Auth to the
// name of a credential of the connection ("default" for the connection's
// primary credential) and the host adds the Authorization header; or put
// "{{secret:NAME}}" in a header value and the host substitutes it. The
// connector never sees a secret.
type HTTPRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    []byte            `json:"body,omitempty"`
	Auth    string            `json:"auth,omitempty"`
}

// HTTPResponse is the output of sluice_http. When the host refused or
// failed the request, Status is 0 and Error says why (ErrorType names
// the class: "denied_host", "denied_method", "denied_address",
// "rate_limited", "timeout", "too_large", "transport").
type HTTPResponse struct {
	Status    int               `json:"status"`
	Headers   map[string]string `json:"headers,omitempty"`
	Body      []byte            `json:"body,omitempty"`
	Error     string            `json:"error,omitempty"`
	ErrorType string            `json:"error_type,omitempty"`
}

// Object is one remote object emitted through sluice_emit. ID is the
// source system's id; the host derives the entity id from (tenant,
// connector, Type, ID). UpdatedAt and CreatedAt are RFC 3339 source
// timestamps: UpdatedAt orders versions, CreatedAt bounds backfills.
type Object struct {
	Type      string          `json:"type"`
	ID        string          `json:"id"`
	UpdatedAt string          `json:"updated_at,omitempty"`
	CreatedAt string          `json:"created_at,omitempty"`
	Data      json.RawMessage `json:"data"`
}

// Ref names an object by type and source id.
type Ref struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// Edge is a typed relation between two objects of the same connection.
// Confidence is in [0,1]; zero means 1 (an asserted fact).
type Edge struct {
	Type       string  `json:"type"`
	From       Ref     `json:"from"`
	To         Ref     `json:"to"`
	Confidence float64 `json:"confidence,omitempty"`
}

// Deletion says a remote object no longer exists. The host applies
// deletions only when the run is a completed full snapshot.
type Deletion struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// EmitBatch is the input of sluice_emit.
type EmitBatch struct {
	Objects   []Object   `json:"objects,omitempty"`
	Edges     []Edge     `json:"edges,omitempty"`
	Deletions []Deletion `json:"deletions,omitempty"`
}

// Rejection names one record of a batch the host refused and why.
type Rejection struct {
	Kind   string `json:"kind"` // "object", "edge" or "deletion"
	Index  int    `json:"index"`
	Type   string `json:"type,omitempty"`
	ID     string `json:"id,omitempty"`
	Reason string `json:"reason"`
}

// EmitResult is the output of sluice_emit.
type EmitResult struct {
	Accepted int         `json:"accepted"`
	Rejected []Rejection `json:"rejected,omitempty"`
	// Error is set when the whole batch was refused (for example the
	// per-call record cap was exceeded); the connector should stop.
	Error string `json:"error,omitempty"`
}
