package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/keyring"
	"github.com/sluicehq/sluice/kms/local"
	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/outbound"
	"github.com/sluicehq/sluice/policy"
	"github.com/sluicehq/sluice/store"
)

// home is an opened data folder: the store, the signing key and an
// engine whose compilation cache lives beside them.
type home struct {
	dir    string
	db     *store.DB
	keys   *keyring.Ring // receipt signing keys; the engine signs with the active one
	engine *engine.Engine
	// outbound is the sink of no-persistent-indexing connections: the
	// API's GET …/stream and, with homeOptions.outboundDir, NDJSON files.
	outbound *outbound.Hub
}

type homeOptions struct {
	allowPrivate bool
	logger       *slog.Logger
	registerer   prometheus.Registerer // engine metrics; nil registers none
	wrap         keyring.KMS           // wraps the signing keys; nil is the local KMS key file
	tracer       trace.TracerProvider  // engine spans; nil is the noop provider
	outboundDir  string                // file sink of no-persistent-indexing objects; "" = streams only
}

// keyPath is the signing key file of data folders made before the
// keyring; openHome imports it into the keyring and deletes it.
func keyPath(dir string) string { return filepath.Join(dir, "keys", "signing.pem") }

// openKeyring opens the receipt signing keyring of a data folder, its
// private keys wrapped by the local KMS key file, and makes sure it has
// an active key (importing keys/signing.pem on the first start).
func openKeyring(ctx context.Context, dir string, db *store.DB, logger *slog.Logger) (*keyring.Ring, error) {
	return openKeyringWith(ctx, dir, db, nil, logger)
}

// openKeyringWith is openKeyring with the KMS that wraps the keys (nil:
// the local KMS key file).
func openKeyringWith(ctx context.Context, dir string, db *store.DB, wrap keyring.KMS, logger *slog.Logger) (*keyring.Ring, error) {
	if wrap == nil {
		k, err := local.Open(kmsKeyPath(dir))
		if err != nil {
			return nil, fmt.Errorf("kms: %w", err)
		}
		wrap = k
	}
	ring, err := keyring.New(keyring.Config{Store: db, KMS: wrap, Rand: rand.Reader, Logger: logger})
	if err != nil {
		return nil, err
	}
	if _, err := ring.Init(ctx, keyPath(dir)); err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return ring, nil
}

func openHome(dir string, o homeOptions) (*home, error) {
	if dir == "" {
		return nil, usageError("--data is required")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	db, err := store.Open(store.Options{Dir: filepath.Join(dir, "store"), Logger: o.logger})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	ring, err := openKeyringWith(context.Background(), dir, db, o.wrap, o.logger)
	if err != nil {
		db.Close()
		return nil, err
	}
	hub := outbound.New(outbound.Config{FileDir: o.outboundDir})
	eng, err := engine.New(engine.Config{
		Outbound:             hub,
		Store:                db,
		Signer:               ring.Signer(),
		CacheDir:             filepath.Join(dir, "cache", "wazero"),
		Logger:               o.logger,
		AllowPrivateNetworks: o.allowPrivate,
		Registerer:           o.registerer,
		TracerProvider:       o.tracer,
		Policies:             policy.New(policy.Config{}), // the tenants' CEL ingest policies
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &home{dir: dir, db: db, keys: ring, engine: eng, outbound: hub}, nil
}

func (h *home) close(ctx context.Context) error {
	return errors.Join(h.engine.Close(ctx), h.db.Close())
}

// loadModule reads a manifest and a module and loads them.
func (h *home) loadModule(ctx context.Context, modulePath, manifestPath string) (*engine.Module, error) {
	m, err := readManifest(manifestPath)
	if err != nil {
		return nil, err
	}
	wasm, err := os.ReadFile(modulePath)
	if err != nil {
		return nil, fmt.Errorf("module: %w", err)
	}
	mod, err := h.engine.Load(ctx, wasm, m)
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", modulePath, err)
	}
	return mod, nil
}

func readManifest(path string) (*protocol.Manifest, error) {
	if path == "" {
		return nil, usageError("--manifest is required")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	m, err := manifest.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	return m, nil
}

// parsePairs turns repeated k=v flags into a map, naming the flag in the
// error.
func parsePairs(flag string, pairs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, usageError("--%s %q: want key=value", flag, p)
		}
		out[k] = v
	}
	return out, nil
}

// secretsFromEnv adds SLUICE_SECRET_<NAME> variables (name lower-cased),
// so secrets need not appear in the process arguments.
func secretsFromEnv(into map[string]string) {
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if name, ok := strings.CutPrefix(k, "SLUICE_SECRET_"); ok && name != "" {
			if _, set := into[strings.ToLower(name)]; !set {
				into[strings.ToLower(name)] = v
			}
		}
	}
}

func newLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
