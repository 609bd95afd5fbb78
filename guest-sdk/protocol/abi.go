package protocol

// ABIVersion is the version of the guest ABI described by this package.
// A breaking change to any message or host function bumps it and the
// host namespace together, so old modules keep loading against the old
// namespace.
const ABIVersion = "v1"

// HostNamespace is the Wasm import module of Sluice's host functions.
const HostNamespace = "sluice:host/" + ABIVersion

// Host functions in [HostNamespace]. Each takes Extism memory offsets
// (i64) and returns an offset to a JSON document in Extism memory, except
// FuncLog which returns nothing.
//
//	sluice_http(req i64) -> resp i64     HTTPRequest  -> HTTPResponse
//	sluice_emit(batch i64) -> res i64    EmitBatch    -> EmitResult
//	sluice_log(level i32, msg i64)       UTF-8 text, level is a LogLevel
const (
	FuncHTTP = "sluice_http"
	FuncEmit = "sluice_emit"
	FuncLog  = "sluice_log"
)

// Exports a connector may define. Each is an Extism plug-in function:
// JSON input through the Extism input, JSON output through the Extism
// output, a non-zero return code plus an Extism error for failure.
const (
	ExportDiscover  = "discover"
	ExportAuthorize = "authorize"
	ExportSync      = "sync"
	ExportBackfill  = "backfill"
	ExportWebhook   = "webhook"
	ExportReplay    = "replay"
	ExportExecute   = "execute"
	ExportVerify    = "verify"
	ExportHealth    = "health"
)

// Exports lists every export name of the ABI in a stable order.
var Exports = []string{
	ExportDiscover, ExportAuthorize, ExportSync, ExportBackfill,
	ExportWebhook, ExportReplay, ExportExecute, ExportVerify, ExportHealth,
}

// Connector types (capabilities) a manifest and discover() may declare.
const (
	TypeIngestPull = "ingest_pull"
	TypeIngestPush = "ingest_push"
	TypeAction     = "action"
	TypeVerify     = "verify"
)

// LogLevel is the level argument of sluice_log.
type LogLevel int32

// Log levels, ordered by severity.
const (
	LogDebug LogLevel = 0
	LogInfo  LogLevel = 1
	LogWarn  LogLevel = 2
	LogError LogLevel = 3
)

// String returns the lower-case name of the level.
func (l LogLevel) String() string {
	switch l {
	case LogDebug:
		return "debug"
	case LogInfo:
		return "info"
	case LogWarn:
		return "warn"
	case LogError:
		return "error"
	}
	return "unknown"
}
