package conformance

import (
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/engine"
)

// Target is what is certified: a module, its manifest, and the sample
// tenant it runs against.
type Target struct {
	Module   []byte // the .wasm bytes
	Manifest []byte // connector.json
	// SandboxURL is a live sample tenant: a sandbox remote (package
	// conformance/sandbox) whose control plane answers this process.
	// Empty with Tapes empty starts an in-process sandbox on 127.0.0.1.
	SandboxURL string
	// Secrets are the credentials for SandboxURL (client_id and
	// client_secret, or api_key); nil means the sandbox's defaults. An
	// in-process sandbox gets fresh random credentials, which are canaries.
	Secrets map[string]string
	// Config is extra connection config; base_url is set by the suite.
	Config map[string]string
	// Tapes is a directory of recorded tapes (*.json, package tape) from
	// a partner's sample tenant: tape mode. Checks that need a live
	// remote are skipped in tape mode, so it reaches no level on its own;
	// it proves determinism and egress offline.
	Tapes string
}

// Progress is told about each check as it starts and ends; calls may
// come from several goroutines at once.
type Progress interface {
	Start(c Check)
	Done(c Check, r Result)
}

// Option tunes a certification run.
type Option func(*options)

type options struct {
	level    Level
	progress Progress
	clock    func() time.Time
	registry *Registry
	extra    []Check
	only     []string
	limits   engine.Limits
	cacheDir string
	sandbox  sandbox.Config
	parallel int
	config   map[string]string
}

// WithLevel asks for a level; the default is the manifest's claim
// (Bronze if it claims none).
func WithLevel(l Level) Option { return func(o *options) { o.level = l } }

// WithProgress reports each check as it starts and ends.
func WithProgress(p Progress) Option { return func(o *options) { o.progress = p } }

// WithClock sets the clock that stamps and times the report (nil means
// time.Now). A fixed clock makes reports byte-stable (golden tests).
func WithClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// WithRegistry replaces the built-in checks (Default()).
func WithRegistry(r *Registry) Option { return func(o *options) { o.registry = r } }

// WithChecks adds checks after the registry's.
func WithChecks(cs ...Check) Option { return func(o *options) { o.extra = append(o.extra, cs...) } }

// WithOnly runs only the named checks and the checks they need; the
// others are not in the report (so no level is reached past them).
func WithOnly(ids ...string) Option { return func(o *options) { o.only = append(o.only, ids...) } }

// WithLimits sets the engine's limits. Zero fields take the engine's
// production defaults, except the call deadline: 15 s, generous for a
// sample tenant and quicker to stop a runaway module than production's
// 60 s.
func WithLimits(l engine.Limits) Option { return func(o *options) { o.limits = l } }

// WithCacheDir keeps wazero's compiled code in dir between runs (empty:
// in memory only).
func WithCacheDir(dir string) Option { return func(o *options) { o.cacheDir = dir } }

// WithSandbox configures the in-process sandboxes (users, seed, rate
// limit); credentials are always the suite's canaries.
func WithSandbox(cfg sandbox.Config) Option { return func(o *options) { o.sandbox = cfg } }

// WithParallel runs at most n checks at once (default 4).
func WithParallel(n int) Option { return func(o *options) { o.parallel = n } }
