package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/actions"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/conformance"
	"github.com/sluicehq/sluice/connections"
	"github.com/sluicehq/sluice/dlq"
	"github.com/sluicehq/sluice/export"
	"github.com/sluicehq/sluice/internal/logs"
	"github.com/sluicehq/sluice/internal/runs"
	"github.com/sluicehq/sluice/kms/awskms"
	"github.com/sluicehq/sluice/kms/local"
	"github.com/sluicehq/sluice/marketplace"
	"github.com/sluicehq/sluice/policy"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/retention"
	"github.com/sluicehq/sluice/secrets"
	"github.com/sluicehq/sluice/webhooks"
)

type serveOptions struct {
	data, addr      string
	public          bool
	allowPrivate    bool
	verbose         bool
	logFormat       string
	logLevel        string
	adminKeyFile    string
	baseURL         string
	shutdownTimeout time.Duration
	rateLimitWindow time.Duration
	demo            bool
	demoModule      string
	demoManifest    string
	kms             string
	aws             awskms.Config
	trace           traceFlags
	// certify configures marketplace submissions (package marketplace).
	certifySandboxURL string
	certifyTimeout    time.Duration
	// retention: the sweeper's period, the tape and DLQ windows (0 =
	// keep), and the no-persistent-indexing file sink.
	retentionInterval time.Duration
	tapeRetention     time.Duration
	dlqRetention      time.Duration
	outboundDir       string
}

func newServeCmd() *cobra.Command {
	var o serveOptions
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP API over the data folder",
		Long: `Run the HTTP API over the data folder (store, signing key, compiled-code cache).

On the first start, with no admin key in the store, an admin key is created
and printed once (or written to --admin-key-file, owner-only). The server
listens on loopback unless --public is given. On SIGINT or SIGTERM it stops
taking requests (/readyz answers 503), lets in-flight requests finish
within --shutdown-timeout, then closes the engine and the store.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runServe(c.Context(), c.OutOrStdout(), c.ErrOrStderr(), o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.data, "data", "./data", "data folder")
	f.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address")
	f.BoolVar(&o.public, "public", false, "allow a non-loopback --addr")
	f.BoolVar(&o.allowPrivate, "allow-private", false, "let connectors reach loopback and private networks (tests, the sandbox)")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "log at debug level (same as --log-level debug)")
	f.StringVar(&o.logFormat, "log-format", "auto", "log format: auto (text on a terminal, JSON otherwise), json or text")
	f.StringVar(&o.logLevel, "log-level", "info", `log levels: a default, then component=level pairs, e.g. "warn,engine=debug" (components: api, engine, registry, secrets, connections, runs, webhooks, actions, dlq, export, retention, marketplace)`)
	f.StringVar(&o.adminKeyFile, "admin-key-file", "", "on first start, write the admin key to this file (mode 0600) instead of printing it")
	f.StringVar(&o.baseURL, "base-url", "", "the API's external URL, for OAuth redirect URIs (default http://<request host>)")
	f.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long in-flight requests may take to finish on shutdown")
	f.DurationVar(&o.rateLimitWindow, "health-rate-limit-window", 5*time.Minute, "how long after a 429 a connection's health stays degraded")
	f.BoolVar(&o.demo, "demo", false, "also start sandbox remotes, register the example connector, create tenants acme and globex, write DIR/demo.json")
	f.StringVar(&o.demoModule, "demo-module", "build/wasm/directory.wasm", "with --demo: the directory connector module")
	f.StringVar(&o.demoManifest, "demo-manifest", "connectors-wasm/directory/connector.json", "with --demo: its manifest (the runbooks it names are read beside it)")
	f.StringVar(&o.kms, "kms", "local", "what wraps the tenants' data keys: local (a key file under DIR/keys) or awskms")
	f.StringVar(&o.aws.KeyID, "kms-key-id", "", "with --kms awskms: the symmetric key (id, ARN or alias/…)")
	f.StringVar(&o.aws.Region, "kms-region", "", "with --kms awskms: the region (default: the AWS SDK's)")
	f.StringVar(&o.aws.Endpoint, "kms-endpoint", "", "with --kms awskms: a KMS endpoint URL (VPC endpoint, local KMS)")
	f.StringVar(&o.certifySandboxURL, "certify-sandbox-url", "", "the sample tenant of marketplace submissions: a running sandbox remote (default: an in-process sandbox on 127.0.0.1 per submission)")
	f.DurationVar(&o.certifyTimeout, "certify-timeout", marketplace.DefaultTimeout, "how long one marketplace submission may run")
	f.DurationVar(&o.retentionInterval, "retention-interval", time.Hour, "period of the retention sweep (objects past their window, tapes, DLQ items)")
	f.DurationVar(&o.tapeRetention, "tape-retention", 0, "drop run tapes older than this (0 keeps them)")
	f.DurationVar(&o.dlqRetention, "dlq-retention", 0, "drop dead-letter items whose last failure is older than this (0 keeps them)")
	f.StringVar(&o.outboundDir, "outbound-dir", "", "also append objects of no-persistent-indexing connections to DIR/{tenant}/{connection}.ndjson")
	o.trace.register(c)
	return c
}

// checkListenAddr refuses a non-loopback address unless public is set:
// an API that holds tenants' data should not reach a network by
// accident. An empty host (":8080") means every interface.
// logger builds the server's logger from --log-format and --log-level.
func (o serveOptions) logger(w io.Writer) (*slog.Logger, error) {
	format, err := logs.ParseFormat(o.logFormat)
	if err != nil {
		return nil, usageError("--log-format: %v", err)
	}
	spec := o.logLevel
	if o.verbose {
		spec = "debug"
	}
	def, per, err := logs.ParseLevels(spec)
	if err != nil {
		return nil, usageError("--log-level: %v", err)
	}
	return logs.New(w, logs.Options{Format: format, Level: def, Levels: per}), nil
}

func checkListenAddr(addr string, public bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usageError("--addr %q: %v", addr, err)
	}
	if public || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return usageError("--addr %q is not a loopback address; pass --public to listen on it", addr)
}

func runServe(ctx context.Context, out, errw io.Writer, o serveOptions) (err error) {
	if err := checkListenAddr(o.addr, o.public); err != nil {
		return err
	}
	if o.shutdownTimeout <= 0 {
		return usageError("--shutdown-timeout must be positive")
	}
	if o.demo {
		o.allowPrivate = true // the sandbox remotes are on loopback
	}
	if o.kms != "local" && o.kms != "awskms" {
		return usageError("--kms %q: want local or awskms", o.kms)
	}
	if o.kms == "awskms" && o.aws.KeyID == "" {
		return usageError("--kms awskms needs --kms-key-id")
	}
	logger, err := o.logger(errw)
	if err != nil {
		return err
	}
	tp, err := o.trace.provider(ctx, out, logger)
	if err != nil {
		return err
	}
	// Deferred first, so it runs last: spans are flushed after the engine closed.
	defer func() { err = errors.Join(err, shutdownTracing(ctx, tp, o.shutdownTimeout)) }()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	wrap, err := signingKMS(ctx, o)
	if err != nil {
		return err
	}
	h, err := openHome(o.data, homeOptions{wrap: wrap, allowPrivate: o.allowPrivate, logger: logs.For(logger, "engine"), registerer: reg, tracer: tp, outboundDir: o.outboundDir})
	if err != nil {
		return err
	}
	// Whatever happens below, the engine and store close last.
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.shutdownTimeout)
		defer cancel()
		err = errors.Join(err, h.close(cctx))
	}()
	adminKey, err := announceAdminKey(ctx, h, out, o.adminKeyFile)
	if err != nil {
		return err
	}
	cfg := api.Config{
		Store: h.db, Engine: h.engine, Logger: logs.For(logger, "api"), Registerer: reg, Gatherer: reg, BaseURL: o.baseURL,
	}
	cfg.TracerProvider = tp
	cfg.HealthPolicy = api.HealthPolicy{RateLimitWindow: o.rateLimitWindow}
	b, err := wireBackends(ctx, h, o, logger, reg, &cfg)
	if err != nil {
		return err
	}
	svc := b.runs
	schedCtx, stopSched := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSched()
	if err := svc.Start(schedCtx); err != nil {
		return err
	}
	if n, err := svc.Restore(ctx); err != nil {
		return fmt.Errorf("restore runs: %w", err)
	} else if n > 0 {
		fmt.Fprintf(out, "resuming %d interrupted runs\n", n)
	}
	// The webhook intake re-queues what an earlier process accepted and
	// did not process, then opens; it stops before the store closes.
	if err := b.webhooks.Start(ctx); err != nil {
		return err
	}
	defer func() { _ = b.webhooks.Shutdown(context.WithoutCancel(ctx)) }()
	// Action runs a crash left running are failed, with receipts, before
	// anything can execute: the store is this process's alone, so every
	// running run was interrupted (grace 0). A run that cannot be
	// reconciled stays running and is logged; it does not stop serve.
	if n, err := b.actions.Reconcile(ctx, 0); err != nil {
		logger.Warn("actions: reconcile interrupted runs", "reconciled", n, "err", err)
	} else if n > 0 {
		fmt.Fprintf(out, "failed %d action runs interrupted during execute (verify the remote)\n", n)
	}
	// The actions due-scan loop revokes expired grants, expires stale
	// approvals and runs scheduled checks; it stops before the store.
	if err := b.actions.Start(schedCtx); err != nil {
		return err
	}
	defer func() { _ = b.actions.Shutdown(context.WithoutCancel(ctx)) }()
	// The retention sweeper purges expired objects (signing purge
	// receipts), tapes and DLQ items; it stops before the store.
	sweeper, err := retention.New(retention.Config{Store: h.db, Signer: h.keys.Signer(), Interval: o.retentionInterval,
		TapeRetention: o.tapeRetention, DLQRetention: o.dlqRetention, Logger: logs.For(logger, "retention")})
	if err != nil {
		return err
	}
	if err := sweeper.Start(schedCtx); err != nil {
		return err
	}
	defer func() { _ = sweeper.Shutdown(context.WithoutCancel(ctx)) }()
	cfg.Streams = h.outbound
	srv, err := api.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// Bundle uploads are up to 64 MiB: allow a slow link minutes.
		ReadTimeout:  5 * time.Minute,
		WriteTimeout: 5 * time.Minute,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	hs.RegisterOnShutdown(h.outbound.Close) // ends open GET …/stream responses, which Shutdown would wait on
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	fmt.Fprintf(out, "sluice API on http://%s (data %s)\n", ln.Addr(), o.data)
	if o.demo {
		d, err := setupDemo(ctx, out, h, b, adminKey, o.demoModule, o.demoManifest, "http://"+ln.Addr().String())
		defer d.close()
		if err != nil {
			_ = hs.Close()
			_ = svc.Shutdown(context.WithoutCancel(ctx))
			return err
		}
		defer certifyDemo(ctx, b.marketplace, b.registry, o.demoManifest, logs.For(logger, "marketplace"))()
	}

	select {
	case err := <-served: // the listener failed; nothing to drain
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	fmt.Fprintln(out, "shutting down: finishing in-flight requests")
	srv.Drain()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.shutdownTimeout)
	defer cancel()
	// Order: stop HTTP (no new runs can be asked for), then the domain
	// backends (the scheduler checkpoints its runs), then, in the
	// deferred close above, the engine and the store.
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	// Running syncs are interrupted, not failed: each keeps its last
	// committed page and resumes on the next run of its connection.
	if err := svc.Shutdown(sctx); err != nil {
		return fmt.Errorf("scheduler shutdown: %w", err)
	}
	// Events not processed yet stay in the inbox for the next start.
	if err := b.webhooks.Shutdown(sctx); err != nil {
		return fmt.Errorf("webhooks shutdown: %w", err)
	}
	if err := b.actions.Shutdown(sctx); err != nil {
		return fmt.Errorf("actions shutdown: %w", err)
	}
	return nil
}

// kmsKeyPath is the local KMS key file, beside the signing key.
func kmsKeyPath(dir string) string { return filepath.Join(dir, "keys", "kms-local.key") }

// wireBackends builds the domain backends over the data folder and puts
// them in cfg: the connector registry, the secrets vault (local KMS key
// file), the connections manager and the run scheduler, which it returns
// for the caller to start and shut down.
// backends are the domain services serve wires into the API.
type backends struct {
	registry    *registry.Registry
	connections *connections.Manager
	runs        *runs.Service
	webhooks    *webhooks.Service
	actions     *actions.Service
	marketplace *marketplace.Service
}

func wireBackends(ctx context.Context, h *home, o serveOptions, logger *slog.Logger, promReg prometheus.Registerer, cfg *api.Config) (*backends, error) {
	reg, err := registry.New(registry.Config{Store: h.db, Engine: h.engine, Logger: logs.For(logger, "registry")})
	if err != nil {
		return nil, err
	}
	var key secrets.KMS
	if o.kms == "awskms" {
		key, err = awskms.New(ctx, o.aws)
	} else {
		key, err = local.Open(kmsKeyPath(h.dir))
	}
	if err != nil {
		return nil, fmt.Errorf("kms: %w", err)
	}
	logger.Info("secrets: tenant data keys wrapped by KMS", "kms", o.kms, "key", key.KeyID())
	vault, err := secrets.New(secrets.Config{Store: h.db, KMS: key, Logger: logs.For(logger, "secrets")})
	if err != nil {
		return nil, err
	}
	mgr, err := connections.New(connections.Config{Store: h.db, Engine: h.engine, Modules: reg, Secrets: vault, Logger: logs.For(logger, "connections")})
	if err != nil {
		return nil, err
	}
	svc, err := runs.New(runs.Config{Store: h.db, Engine: h.engine, Connections: mgr, Logger: logs.For(logger, "runs"), Registerer: promReg})
	if err != nil {
		return nil, err
	}
	cfg.Registry = api.RegistryBackend(reg, 0)
	cfg.Connections = svc.Connections(api.ConnectionsBackend(mgr))
	cfg.Scheduler = svc
	cfg.HostStats = svc
	pols := policy.New(policy.Config{}) // tenant CEL policies: API, action preflight, export redaction
	cfg.Policies = pols
	if cfg.Exports, err = export.New(export.Config{Store: h.db, Rules: export.PolicyRules{Store: h.db, Policies: pols}, Logger: logs.For(logger, "export")}); err != nil {
		return nil, err
	}
	cfg.SigningKeys = h.keys
	hooks, err := webhooks.New(webhooks.Config{Store: h.db, Engine: h.engine, Connections: mgr, Sealer: vault,
		Logger: logs.For(logger, "webhooks"), Registerer: promReg})
	if err != nil {
		return nil, err
	}
	cfg.Webhooks = hooks
	dead, err := dlq.New(dlq.Config{Store: h.db, Engine: h.engine, Connections: mgr, Signer: h.keys.Signer(),
		Logger: logs.For(logger, "dlq"), Registerer: promReg})
	if err != nil {
		return nil, err
	}
	cfg.DLQ = dead
	act, err := actions.New(actions.Config{Store: h.db, Engine: h.engine, Connections: mgr, Signer: h.keys.Signer(),
		Logger: logs.For(logger, "actions"), Registerer: promReg, Policies: pols})
	if err != nil {
		return nil, err
	}
	cfg.Actions = act
	// Submissions certify with their own engine and Badger in a temporary
	// folder (package conformance); compiled code is cached under the data folder.
	mkt, err := marketplace.New(marketplace.Config{Store: h.db, Registry: reg, SandboxURL: o.certifySandboxURL, Timeout: o.certifyTimeout,
		Options: []conformance.Option{conformance.WithCacheDir(filepath.Join(h.dir, "cache", "certify"))}, Logger: logs.For(logger, "marketplace")})
	if err != nil {
		return nil, err
	}
	cfg.Marketplace = mkt
	return &backends{registry: reg, connections: mgr, runs: svc, webhooks: hooks, actions: act, marketplace: mkt}, nil
}

// announceAdminKey bootstraps the first admin key of an empty store and
// shows it once: on out, or in keyFile (owner-only); it returns the key.
// A store that has an admin key already gets nothing new ("").
func announceAdminKey(ctx context.Context, h *home, out io.Writer, keyFile string) (string, error) {
	key, err := api.Bootstrap(ctx, h.db)
	switch {
	case errors.Is(err, api.ErrBootstrapped):
		return "", nil
	case err != nil:
		return "", err
	}
	if keyFile == "" {
		fmt.Fprintf(out, "admin key (shown once; store it now): %s\n", key)
		return key, nil
	}
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("admin key file: %w", err)
	}
	fmt.Fprintf(out, "admin key written to %s\n", keyFile)
	return key, nil
}
