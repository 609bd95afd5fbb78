package conformance

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/keyring"
	"github.com/sluicehq/sluice/kms/local"
	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/outbound"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/tape"
)

// Tenants of the baseline runs.
const (
	TenantA = "certify-a"
	TenantB = "certify-b"
	// ConnID is the connection id every suite connection uses.
	ConnID = "conn"
)

// Env is what checks run against: a real engine over a real Badger in a
// temporary folder, the module loaded, the sample tenant, canary secrets,
// and everything the host observed (runs, tapes, logs, metrics).
type Env struct {
	Mode         string // "live" or "tape"
	Wasm         []byte
	ManifestJSON []byte
	// Manifest is nil if it does not parse (ManifestErr).
	Manifest    *protocol.Manifest
	ManifestErr error
	Engine      *engine.Engine
	Store       *store.DB
	Keys        receipt.KeySet
	// Module is nil until static.imports loaded it (LoadErr if it failed).
	Module  *engine.Module
	LoadErr error
	// Remote is the sample tenant (nil in tape mode).
	Remote *Remote
	// Canaries are secret values the suite planted: the client secret
	// and a value in the connection config under key "canary".
	Canaries []string
	Metrics  *prometheus.Registry
	// Tapes are the tape set of tape mode.
	Tapes []*tape.Tape
	// Limits are the engine's limits in force.
	Limits engine.Limits
	// Outbound is the engine's sink of no-persistent-indexing runs, which
	// privacy.retention subscribes to (checks_retention.go).
	Outbound *outbound.Hub

	opts     options
	dir      string
	logs     *logBuffer
	cleanups []func()

	mu        sync.Mutex
	runs      []Observed
	tenants   map[string]bool
	exercised map[string]bool
	signer    *receipt.Signer

	baseOnce   sync.Once
	baseline   *Baseline
	rerunOnce  sync.Once
	rerun      *Rerun
	verifyOnce sync.Once
	verify     *verifyRun
}

// Observed is one run the suite made, for the checks that look at
// everything the host saw (egress, limits, secrets).
type Observed struct {
	Name   string // what the run was for, e.g. "baseline-a"
	Tenant string
	Result *engine.Result // nil for a call outside a run (verify, execute)
	Tape   *tape.Tape
	Err    error
	// Owner is the check that reports this run's failure itself (the
	// storm's hot loop ends at the deadline); others leave it to it.
	Owner string
}

// BaselineRun is one full sync of the sample tenant.
type BaselineRun struct {
	Tenant *store.Tenant
	Conn   engine.Connection
	Result *engine.Result
	Err    error
}

// Baseline is a full sync of the same sample tenant by two tenants.
type Baseline struct{ A, B BaselineRun }

// newEnv prepares the environment without running the module.
func newEnv(ctx context.Context, t Target, o options) (*Env, error) {
	if len(t.Module) == 0 || len(t.Manifest) == 0 {
		return nil, fmt.Errorf("%w: module and manifest are required", ErrInvalidTarget)
	}
	if t.SandboxURL != "" && t.Tapes != "" {
		return nil, fmt.Errorf("%w: give a sandbox URL or a tape directory, not both", ErrInvalidTarget)
	}
	dir, err := os.MkdirTemp("", "sluice-certify-")
	if err != nil {
		return nil, fmt.Errorf("conformance: %w", err)
	}
	env := &Env{Mode: "live", Wasm: t.Module, ManifestJSON: t.Manifest, opts: o, dir: dir,
		logs: &logBuffer{}, tenants: map[string]bool{}, exercised: map[string]bool{}, Metrics: prometheus.NewRegistry()}
	env.cleanups = append(env.cleanups, func() { _ = os.RemoveAll(dir) })
	env.Manifest, env.ManifestErr = manifest.Parse(t.Manifest)
	canary := "canary-" + randomHex(12)
	env.Canaries = []string{canary}
	db, err := store.Open(store.Options{Dir: filepath.Join(dir, "store")})
	if err != nil {
		env.Close()
		return nil, fmt.Errorf("conformance: store: %w", err)
	}
	env.Store = db
	env.cleanups = append(env.cleanups, func() { _ = db.Close() })
	// A real keyring (local KMS in the temporary folder): exports verify
	// stored receipts against the platform's keyring.
	wrap, err := local.Open(filepath.Join(dir, "kms", "master.key"))
	if err != nil {
		env.Close()
		return nil, fmt.Errorf("conformance: kms: %w", err)
	}
	ring, err := keyring.New(keyring.Config{Store: db, KMS: wrap})
	if err != nil {
		env.Close()
		return nil, err
	}
	if _, err := ring.Init(ctx, ""); err != nil {
		env.Close()
		return nil, fmt.Errorf("conformance: keyring: %w", err)
	}
	env.signer = ring.Signer()
	if env.Keys, err = ring.KeySet(ctx); err != nil {
		env.Close()
		return nil, err
	}
	env.Limits = o.limits
	if env.Limits.CallTimeout == 0 {
		env.Limits.CallTimeout = 15 * time.Second
	}
	switch {
	case t.Tapes != "":
		env.Mode = "tape"
		if env.Tapes, err = readTapes(t.Tapes); err != nil {
			env.Close()
			return nil, err
		}
	case t.SandboxURL != "":
		secrets := t.Secrets
		if secrets == nil {
			secrets = map[string]string{"client_id": sandbox.DefaultClientID, "client_secret": sandbox.DefaultClientSecret}
		}
		env.Remote = urlRemote(t.SandboxURL, secrets)
	default:
		r, err := env.NewSandbox(nil)
		if err != nil {
			env.Close()
			return nil, err
		}
		env.Remote = r
	}
	if env.Remote != nil {
		for _, v := range env.Remote.Secrets {
			env.Canaries = append(env.Canaries, v)
		}
	}
	env.Outbound = outbound.New(outbound.Config{})
	eng, err := engine.New(engine.Config{
		Outbound: env.Outbound,
		Store:    db, Signer: env.signer, CacheDir: o.cacheDir,
		Logger:     slog.New(slog.NewJSONHandler(env.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registerer: env.Metrics, Limits: env.Limits,
		// Loopback is allowed only to reach a loopback sample tenant
		// (the sandbox); a production engine refuses it at dial time.
		AllowPrivateNetworks: env.Remote != nil && loopbackURL(env.Remote.URL),
	})
	if err != nil {
		env.Close()
		return nil, err
	}
	env.Engine = eng
	env.cleanups = append(env.cleanups, func() { _ = eng.Close(context.Background()) })
	return env, nil
}

// Close releases everything, last acquired first.
func (e *Env) Close() {
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
	e.cleanups = nil
}

// NewSandbox starts a private in-process sandbox on 127.0.0.1 with the
// suite's canary credentials; tweak may change its config (a clock, a
// rate limit). It is closed with the Env. Checks that inject faults or
// move the remote's clock use their own, so they never disturb checks
// running beside them.
func (e *Env) NewSandbox(tweak func(*sandbox.Config)) (*Remote, error) {
	cfg := e.opts.sandbox
	if cfg.Users == 0 {
		cfg.Users = 100
	}
	if tweak != nil {
		tweak(&cfg)
	}
	e.mu.Lock()
	secrets := map[string]string{"client_id": "certify-client", "client_secret": e.Canaries[0] + "-client"}
	e.mu.Unlock()
	r, stop, err := startSandbox(cfg, secrets)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.cleanups = append(e.cleanups, stop)
	if !contains(e.Canaries, secrets["client_secret"]) {
		e.Canaries = append(e.Canaries, secrets["client_secret"])
	}
	e.mu.Unlock()
	return r, nil
}

// Tenant returns a store tenant by id; every check that writes uses its
// own tenant, so checks running at once never share state.
func (e *Env) Tenant(id string) (*store.Tenant, error) {
	e.mu.Lock()
	e.tenants[id] = true
	e.mu.Unlock()
	return e.Store.Tenant(id)
}

// TenantIDs lists the tenants the suite used.
func (e *Env) TenantIDs() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return sortedKeys(e.tenants)
}

// Conn is a connection of tenant to remote (nil: the sample tenant) with
// every declared scope granted and the canary in its config.
func (e *Env) Conn(tenant string, remote *Remote) (engine.Connection, error) {
	if e.Module == nil {
		return engine.Connection{}, errors.New("module not loaded")
	}
	if remote == nil {
		remote = e.Remote
	}
	if remote == nil {
		return engine.Connection{}, errors.New("no live sample tenant (tape mode)")
	}
	tn, err := e.Tenant(tenant)
	if err != nil {
		return engine.Connection{}, err
	}
	cfg := protocol.Config{}
	maps.Copy(cfg, e.opts.config)
	cfg["base_url"] = remote.URL
	// A secret pasted into config by mistake: the host must scrub it
	// from everything, and a module must never try to log or emit it.
	cfg["canary"] = e.Canaries[0]
	creds, scrub, err := e.Engine.Credentials(e.Module.Manifest, cfg, remote.Secrets)
	if err != nil {
		return engine.Connection{}, err
	}
	var scopes []string
	for _, s := range e.Module.Manifest.Scopes {
		scopes = append(scopes, s.Name)
	}
	secrets := []string{e.Canaries[0]}
	for _, v := range remote.Secrets {
		secrets = append(secrets, v)
	}
	return engine.Connection{Tenant: tn, ID: ConnID, Module: e.Module, Config: cfg, Scopes: scopes,
		Credentials: creds, Scrub: scrub, Secrets: secrets, AccountID: "certify"}, nil
}

// Sync runs a sync with a tape and records it as observed.
func (e *Env) Sync(ctx context.Context, name string, c engine.Connection, o engine.RunOptions) (*engine.Result, error) {
	o.Record = true
	res, err := e.Engine.Sync(ctx, c, o)
	e.Observe(name, c.Tenant.ID(), res, err)
	return res, err
}

// Backfill runs a backfill with a tape and records it as observed.
func (e *Env) Backfill(ctx context.Context, name string, c engine.Connection, r protocol.Range, o engine.RunOptions) (*engine.Result, error) {
	o.Record = true
	res, err := e.Engine.Backfill(ctx, c, r, o)
	e.Observe(name, c.Tenant.ID(), res, err)
	return res, err
}

// Observe records a run for the checks that look at every run.
func (e *Env) Observe(name, tenant string, res *engine.Result, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ob := Observed{Name: name, Tenant: tenant, Result: res, Err: err}
	if res != nil {
		ob.Tape = res.Tape
	}
	e.runs = append(e.runs, ob)
}

// Attribute makes check the owner of the named runs' failures.
func (e *Env) Attribute(check string, names ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range e.runs {
		if contains(names, e.runs[i].Name) {
			e.runs[i].Owner = check
		}
	}
}

// ObserveCall records a call outside a run (verify, execute, webhook).
func (e *Env) ObserveCall(name, tenant string, tp *tape.Tape, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.runs = append(e.runs, Observed{Name: name, Tenant: tenant, Tape: tp, Err: err})
}

// Exercise notes scopes the suite used (a stream that stored data, an
// action executed, a check verified).
func (e *Env) Exercise(scopes ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range scopes {
		e.exercised[s] = true
	}
}

// Exercised returns the scopes noted by Exercise.
func (e *Env) Exercised() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return sortedKeys(e.exercised)
}

// Runs returns the runs observed so far.
func (e *Env) Runs() []Observed {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Observed(nil), e.runs...)
}

// Baseline runs (once) a full sync of the sample tenant for tenants A
// and B, one after the other.
func (e *Env) Baseline(ctx context.Context) *Baseline {
	e.baseOnce.Do(func() {
		b := &Baseline{}
		for _, x := range []struct {
			id  string
			run *BaselineRun
		}{{TenantA, &b.A}, {TenantB, &b.B}} {
			c, err := e.Conn(x.id, nil)
			if err != nil {
				x.run.Err = err
				continue
			}
			x.run.Tenant, x.run.Conn = c.Tenant, c
			x.run.Result, x.run.Err = e.Sync(ctx, "baseline-"+x.id, c, engine.RunOptions{Full: true})
			if x.run.Err != nil {
				break // B would only repeat A's failure
			}
		}
		e.baseline = b
	})
	return e.baseline
}

// LogLine is one captured engine log record.
type LogLine struct {
	Raw   string
	Msg   string
	Guest bool // written by the module through sluice_log
}

// Logs returns every log line the engine wrote so far.
func (e *Env) Logs() []LogLine { return e.logs.lines() }

// logBuffer captures the engine's JSON logs.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) lines() []LogLine {
	l.mu.Lock()
	data := bytes.Clone(l.b.Bytes())
	l.mu.Unlock()
	var out []LogLine
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var rec struct {
			Msg    string `json:"msg"`
			Origin string `json:"origin"`
		}
		_ = json.Unmarshal(sc.Bytes(), &rec)
		out = append(out, LogLine{Raw: sc.Text(), Msg: rec.Msg, Guest: rec.Origin == "guest"})
	}
	return out
}

// readTapes reads every *.json tape of dir, sorted by name.
func readTapes(dir string) ([]*tape.Tape, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTapeMode, err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("%w: no *.json tapes in %s", ErrTapeMode, dir)
	}
	var out []*tape.Tape
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrTapeMode, err)
		}
		tp, err := tape.Parse(b)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrTapeMode, filepath.Base(p), err)
		}
		out = append(out, tp)
	}
	return out, nil
}

// loopbackURL reports whether u's host is a loopback address or
// localhost: a sample tenant on this machine.
func loopbackURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	return loopbackHost(p.Hostname())
}

func loopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.Unmap().IsLoopback()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
