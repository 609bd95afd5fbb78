package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/store"
)

// Connections gives the engine's view of a tenant's connection
// (connections.Manager has this method).
type Connections interface {
	Connection(ctx context.Context, t *store.Tenant, id string) (engine.Connection, error)
}

// Sealer seals the signing secrets inside the endpoint record under the
// tenant's data key; *secrets.Vault is one.
type Sealer interface {
	Seal(ctx context.Context, t *store.Tenant, connection, name string, value []byte) ([]byte, error)
	Unseal(ctx context.Context, t *store.Tenant, connection, name string, blob []byte) ([]byte, error)
}

// Config configures a Service. Store, Engine, Connections and Sealer are
// required; every other zero value takes the default in its comment.
type Config struct {
	Store       *store.DB
	Engine      *engine.Engine
	Connections Connections
	Sealer      Sealer
	// Logger receives intake and processing events (never a secret or a
	// body); nil discards.
	Logger *slog.Logger
	// Registerer receives the metrics; nil registers none.
	Registerer prometheus.Registerer
	// Now is the clock of signatures, records and rotation; nil means
	// time.Now.
	Now func() time.Time
	// Tolerance bounds webhook-timestamp against Now (default 5 minutes).
	Tolerance time.Duration
	// MaxBodyBytes caps a delivery's body (default 256 KiB, at most
	// store.MaxInboxBody).
	MaxBodyBytes int64
	// QueueSize bounds the events accepted and not yet processed
	// (default 10,000); beyond it Accept answers ErrQueueFull.
	QueueSize int
	// RetryAfter is what a refused sender is told to wait (default 1 s).
	RetryAfter time.Duration
	// Workers process events concurrently (default 2). Negative means
	// none: an intake-only service whose accepted events wait in the
	// inbox for the next Start of a service with workers (the benchmark
	// measures the intake alone this way).
	Workers int
	// Retries is how many times a worker retries an event whose
	// processing failed outside the connector (store, lookup) before it
	// becomes a DLQ item (default 3).
	Retries int
	// DeliveryTTL is how long a webhook-id is remembered for de-dup
	// (default 72 h); EventTTL the same for the connector's event ids
	// (default engine.DefaultEventTTL).
	DeliveryTTL, EventTTL time.Duration
	// RotationOverlap is how long the previous secret keeps verifying
	// after a rotation (default 24 h).
	RotationOverlap time.Duration
	// BatchMax caps the deliveries written in one transaction (default
	// 256); BatchBytes their bodies (default 1 MiB).
	BatchMax   int
	BatchBytes int
}

// maxQueue bounds Config.QueueSize: the queue is allocated at Start.
const maxQueue = 1 << 20

func (c Config) withDefaults() (Config, error) {
	switch {
	case c.Store == nil:
		return c, fmt.Errorf("%w: Config.Store is required", ErrInvalid)
	case c.Engine == nil:
		return c, fmt.Errorf("%w: Config.Engine is required", ErrInvalid)
	case c.Connections == nil:
		return c, fmt.Errorf("%w: Config.Connections is required", ErrInvalid)
	case c.Sealer == nil:
		return c, fmt.Errorf("%w: Config.Sealer is required", ErrInvalid)
	case c.QueueSize > maxQueue:
		return c, fmt.Errorf("%w: Config.QueueSize is above %d", ErrInvalid, maxQueue)
	case c.MaxBodyBytes > store.MaxInboxBody:
		return c, fmt.Errorf("%w: Config.MaxBodyBytes is above %d", ErrInvalid, store.MaxInboxBody)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Tolerance, DefaultTolerance)
	def(&c.RetryAfter, time.Second)
	def(&c.DeliveryTTL, 72*time.Hour)
	def(&c.EventTTL, engine.DefaultEventTTL)
	def(&c.RotationOverlap, 24*time.Hour)
	defInt := func(n *int, v int) {
		if *n <= 0 {
			*n = v
		}
	}
	defInt(&c.QueueSize, 10_000)
	if c.Workers == 0 {
		c.Workers = 2
	}
	c.Workers = max(c.Workers, 0)
	defInt(&c.Retries, 3)
	defInt(&c.BatchMax, 256)
	defInt(&c.BatchBytes, 1<<20)
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 256 << 10
	}
	return c, nil
}

// Service is the webhook intake and its inbox worker. It is safe for
// concurrent use.
type Service struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	verify  Verifier

	keys   sync.Map   // hook → *hookEntry
	rotate sync.Mutex // serialises endpoint rotations

	gate     sync.RWMutex // Accept holds it shared; Shutdown takes it to close the intake
	running  atomic.Bool
	pending  atomic.Int64 // accepted or recovered, not yet processed
	writes   chan *acceptReq
	queue    chan item
	stop     chan struct{}
	stopWork context.CancelFunc
	wg       sync.WaitGroup
}

// New checks cfg and returns a Service. It registers the metrics and
// does no I/O; call Start before Accept.
func New(cfg Config) (*Service, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, log: cfg.Logger, verify: Verifier{Tolerance: cfg.Tolerance}}
	if s.metrics, err = newMetrics(cfg.Registerer, func() float64 { return float64(s.pending.Load()) }); err != nil {
		return nil, err
	}
	return s, nil
}

// MaxBodyBytes is the body cap of a delivery, for the HTTP layer.
func (s *Service) MaxBodyBytes() int64 { return s.cfg.MaxBodyBytes }

// Depth is the number of events accepted and not yet processed.
func (s *Service) Depth() int { return int(s.pending.Load()) }

// Endpoint is a connection's webhook endpoint as shown to its tenant.
// Secret is set only in the answer of RotateEndpoint, once.
type Endpoint struct {
	Connection string    `json:"connection"`
	Hook       string    `json:"hook"`
	Secret     string    `json:"secret,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	RotatedAt  time.Time `json:"rotated_at,omitzero"`
	// ActiveSecrets counts the secrets that verify now (the newest plus
	// those in their rotation overlap); PreviousExpiresAt is when the
	// last of the older ones stops verifying.
	ActiveSecrets     int       `json:"active_secrets"`
	PreviousExpiresAt time.Time `json:"previous_expires_at,omitzero"`
}

// secretName binds a sealed secret to its role and id.
func secretName(id string) string { return "whsec:" + id }

// RotateEndpoint creates the connection's endpoint, or rotates its
// secret: a new secret is made and returned once, the previous one keeps
// verifying for Config.RotationOverlap, older ones past their overlap
// are dropped. The hook id (and so the URL) stays the same.
func (s *Service) RotateEndpoint(ctx context.Context, t *store.Tenant, connection string) (Endpoint, error) {
	if _, err := t.Connection(ctx, connection); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Endpoint{}, fmt.Errorf("connection %q: %w", connection, ErrNotFound)
		}
		return Endpoint{}, err
	}
	s.rotate.Lock()
	defer s.rotate.Unlock()
	now := s.cfg.Now().UTC()
	ep, err := t.WebhookEndpoint(ctx, connection)
	switch {
	case errors.Is(err, store.ErrNotFound):
		hook, herr := randomHex(16)
		if herr != nil {
			return Endpoint{}, herr
		}
		ep = store.WebhookEndpoint{Connection: connection, Hook: "hk" + hook, CreatedAt: now}
	case err != nil:
		return Endpoint{}, err
	default:
		ep.RotatedAt = now
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return Endpoint{}, err
	}
	id, err := randomHex(8)
	if err != nil {
		return Endpoint{}, err
	}
	sealed, err := s.cfg.Sealer.Seal(ctx, t, connection, secretName(id), key)
	if err != nil {
		return Endpoint{}, err
	}
	kept := []store.WebhookSecret{{ID: id, Sealed: sealed, CreatedAt: now}}
	for _, old := range ep.Secrets {
		if old.ExpiresAt.IsZero() {
			old.ExpiresAt = now.Add(s.cfg.RotationOverlap)
		}
		if old.ExpiresAt.After(now) && len(kept) < 4 {
			kept = append(kept, old)
		}
	}
	ep.Secrets = kept
	if err := t.PutWebhookEndpoint(ctx, ep); err != nil {
		return Endpoint{}, err
	}
	s.keys.Delete(ep.Hook)
	s.log.InfoContext(ctx, "webhook endpoint secret rotated", "tenant", t.ID(), "connection", connection,
		"hook", ep.Hook, "active_secrets", len(kept))
	out := showEndpoint(ep, now)
	out.Secret = FormatSecret(key)
	clear(key)
	return out, nil
}

// Endpoint shows the connection's endpoint, without any secret.
func (s *Service) Endpoint(ctx context.Context, t *store.Tenant, connection string) (Endpoint, error) {
	ep, err := t.WebhookEndpoint(ctx, connection)
	if errors.Is(err, store.ErrNotFound) {
		return Endpoint{}, fmt.Errorf("webhook endpoint of %q: %w", connection, ErrNotFound)
	}
	if err != nil {
		return Endpoint{}, err
	}
	return showEndpoint(ep, s.cfg.Now().UTC()), nil
}

func showEndpoint(ep store.WebhookEndpoint, now time.Time) Endpoint {
	out := Endpoint{Connection: ep.Connection, Hook: ep.Hook, CreatedAt: ep.CreatedAt, RotatedAt: ep.RotatedAt}
	for _, sec := range ep.Secrets {
		if sec.ExpiresAt.IsZero() || sec.ExpiresAt.After(now) {
			out.ActiveSecrets++
		}
		if sec.ExpiresAt.After(out.PreviousExpiresAt) && sec.ExpiresAt.After(now) {
			out.PreviousExpiresAt = sec.ExpiresAt
		}
	}
	return out
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// hookEntry is a hook's route and unsealed keys, cached: verification
// runs on every delivery and must not unseal each time. A rotation in
// this process drops the entry; entries also expire after hookCacheTTL.
type hookEntry struct {
	tenant  *store.Tenant
	conn    string
	keys    []hookKey
	loaded  time.Time
	missing bool // the hook is unknown (cached briefly too)
}

type hookKey struct {
	key     []byte
	expires time.Time // zero: current
}

const hookCacheTTL = 30 * time.Second

// hook returns the cached entry of a hook, loading it on a miss.
func (s *Service) hook(ctx context.Context, hook string) (*hookEntry, error) {
	now := time.Now()
	if v, ok := s.keys.Load(hook); ok {
		e := v.(*hookEntry)
		if now.Sub(e.loaded) < hookCacheTTL {
			if e.missing {
				return nil, ErrUnknownHook
			}
			return e, nil
		}
	}
	e, err := s.loadHook(ctx, hook)
	if err != nil {
		return nil, err
	}
	e.loaded = now
	s.keys.Store(hook, e)
	if e.missing {
		return nil, ErrUnknownHook
	}
	return e, nil
}

func (s *Service) loadHook(ctx context.Context, hook string) (*hookEntry, error) {
	r, err := s.cfg.Store.Platform().HookRoute(ctx, hook)
	if errors.Is(err, store.ErrNotFound) {
		if len(hook) > 64 {
			return nil, ErrUnknownHook // do not cache junk
		}
		return &hookEntry{missing: true}, nil
	}
	if err != nil {
		return nil, err
	}
	t, err := s.cfg.Store.Tenant(r.Tenant)
	if err != nil {
		return nil, err
	}
	ep, err := t.WebhookEndpoint(ctx, r.Connection)
	if errors.Is(err, store.ErrNotFound) {
		return &hookEntry{missing: true}, nil
	}
	if err != nil {
		return nil, err
	}
	e := &hookEntry{tenant: t, conn: r.Connection}
	for _, sec := range ep.Secrets {
		key, err := s.cfg.Sealer.Unseal(ctx, t, r.Connection, secretName(sec.ID), sec.Sealed)
		if err != nil {
			return nil, fmt.Errorf("webhooks: open secret %s of %s/%s: %w", sec.ID, r.Tenant, r.Connection, err)
		}
		e.keys = append(e.keys, hookKey{key: key, expires: sec.ExpiresAt})
	}
	return e, nil
}

// activeKeys are the keys that verify at now.
func (e *hookEntry) activeKeys(now time.Time, buf [][]byte) [][]byte {
	for _, k := range e.keys {
		if k.expires.IsZero() || k.expires.After(now) {
			buf = append(buf, k.key)
		}
	}
	return buf
}
