package tape

import (
	"encoding/json"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// FormatVersion is the version of the tape JSON format this package
// writes. Version 2 minimises recorded bodies (see [Dropped]), records
// the connection's narrowed allow-lists, and digests what the host kept
// of each emit batch rather than the batch's bytes. Version 1 tapes
// still parse and replay (their emits are digests of the raw batches).
const FormatVersion = 2

// MinVersion is the oldest tape format Parse accepts.
const MinVersion = 1

// Dropped replaces, in a recorded body or call input, a value of a field
// the host dropped under data minimisation: the tape must not keep what
// the store may not. A number is replaced by 0 instead, so the guest
// still decodes the body it is replayed.
const Dropped = "[DROPPED]"

// Redacted replaces a header value that carried a secret.
const Redacted = "[REDACTED]"

// Tape is one recorded run.
type Tape struct {
	Version          int    `json:"version"`
	RunID            string `json:"run_id"`
	Connector        string `json:"connector"`
	ConnectorVersion string `json:"connector_version"`
	ModuleDigest     string `json:"module_digest"`
	// Clock is the virtual wall-clock start of the run and Seed the hex
	// random seed; both are replayed as recorded.
	Clock time.Time `json:"clock"`
	Seed  string    `json:"seed"`
	// Manifest is the connector.json the run was under, so a reviewer
	// replays with nothing but the tape and the module: the manifest
	// decides which requests the host refuses and which records it
	// accepts, and the module sees those answers. Optional.
	Manifest json.RawMessage `json:"manifest,omitempty"`
	// Fields is the connection's narrowing of the manifest's allow-lists
	// (object type to the fields kept), replayed so the host keeps what
	// it kept live. Empty keeps the manifest's allow-lists.
	Fields map[string][]string `json:"fields,omitempty"`
	Calls  []Call              `json:"calls"`
}

// Call is one invocation of an export.
type Call struct {
	Export string          `json:"export"`
	Input  json.RawMessage `json:"input"`
	// Clock and Seed, when set, are the virtual clock start and hex random
	// seed this call began with: the engine resets both before every
	// page, so one call replays alone (a dead-letter item's tape holds
	// just its failing call). Unset, the call continues the clock and
	// random stream of the call before it, from the tape's.
	Clock     time.Time  `json:"clock,omitzero"`
	Seed      string     `json:"seed,omitempty"`
	Exchanges []Exchange `json:"exchanges,omitempty"`
	// Refused lists the object and edge types the tenant's ingest policy
	// refused during the call; the replay refuses them again.
	Refused []string `json:"refused,omitempty"`
	// Emits holds, in order, the SHA-256 (hex) of each sluice_emit batch:
	// in version 2, of what the host made of it (the objects it kept, as
	// their type, id, times and data digest after minimisation; the
	// edges, deletions and rejections); in version 1, of the batch's
	// bytes as the module sent it.
	Emits []string `json:"emits,omitempty"`
	// Minimised counts the values of Input and of the exchanges' response
	// bodies replaced by [Dropped] because the host dropped their field.
	Minimised int `json:"minimised,omitempty"`
	// Logs holds the SHA-256 (hex) of each scrubbed log line, in order.
	Logs []string `json:"logs,omitempty"`
	// Output is the SHA-256 (hex) of the export's output; Error its
	// error message if it failed.
	Output string `json:"output,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Exchange is one sluice_http call as the module made it and as the host
// answered it (after retries: the module sees only the final answer).
type Exchange struct {
	Request  protocol.HTTPRequest  `json:"request"`
	Response protocol.HTTPResponse `json:"response"`
}
