package dlq

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

// Connections gives the engine's view of a tenant's connection: its
// current module, config and credentials.
type Connections interface {
	Connection(ctx context.Context, t *store.Tenant, id string) (engine.Connection, error)
}

// Config configures a Service. Store, Engine, Connections and Signer are
// required.
type Config struct {
	Store       *store.DB
	Engine      *engine.Engine
	Connections Connections
	// Signer signs replay receipts (the server's receipt key).
	Signer *receipt.Signer
	// Logger receives replay and delete events; nil discards.
	Logger *slog.Logger
	// Registerer receives the depth gauge and the replay counter; nil
	// registers nothing.
	Registerer prometheus.Registerer
	// Now is the clock of removals and receipts; nil means time.Now.
	Now func() time.Time
}

// Service is the dead-letter queue. It is safe for concurrent use; a
// replay and a delete of one item never run at once in one process.
type Service struct {
	db      *store.DB
	eng     *engine.Engine
	conns   Connections
	signer  *receipt.Signer
	log     *slog.Logger
	now     func() time.Time
	replays *prometheus.CounterVec

	mu    sync.Mutex
	busy  map[string]chan struct{} // tenant/item → closed when the holder is done
	depth *depthCollector
}

// New returns a Service and registers its metrics; it does no other I/O.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Engine == nil || cfg.Connections == nil || cfg.Signer == nil {
		return nil, errors.New("dlq: Store, Engine, Connections and Signer are required")
	}
	s := &Service{
		db: cfg.Store, eng: cfg.Engine, conns: cfg.Connections, signer: cfg.Signer,
		log: cfg.Logger, now: cfg.Now, busy: map[string]chan struct{}{},
		replays: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_dlq_replays_total", Help: "Dead-letter replays by mode (tape, live) and status (succeeded, failed).",
		}, []string{"mode", "status"}),
		depth: &depthCollector{db: cfg.Store},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{s.replays, s.depth} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// List returns a connection's items oldest first, a page at a time (see
// store.Tenant.DLQItems).
func (s *Service) List(ctx context.Context, t *store.Tenant, connection, after string, limit int) ([]store.DLQItem, string, error) {
	return t.DLQItems(ctx, connection, after, limit)
}

// Get returns one item; store.ErrNotFound if the tenant has none by id.
func (s *Service) Get(ctx context.Context, t *store.Tenant, id string) (store.DLQItem, error) {
	return t.DLQItem(ctx, id)
}

// Tape returns an item's tape (package tape's JSON); store.ErrNotFound
// if the item has none.
func (s *Service) Tape(ctx context.Context, t *store.Tenant, id string) ([]byte, error) {
	return t.DLQTape(ctx, id)
}

// Delete removes an item unreplayed and records that by removed it
// (store.DLQRemoval, reason "deleted"). store.ErrNotFound if there is no
// such item.
func (s *Service) Delete(ctx context.Context, t *store.Tenant, id, by string) (store.DLQRemoval, error) {
	unlock, err := s.lock(ctx, t.ID(), id)
	if err != nil {
		return store.DLQRemoval{}, err
	}
	defer unlock()
	r := store.DLQRemoval{Reason: store.DLQDeleted, By: by, At: s.now().UTC()}
	if err := t.RemoveDLQItem(ctx, id, r); err != nil {
		return store.DLQRemoval{}, err
	}
	rec, err := t.DLQRemoval(ctx, id)
	if err == nil {
		s.log.Info("dead-letter item deleted", "tenant", t.ID(), "connection", rec.Connection, "dlq_item", id, "by", by)
	}
	return rec, err
}

// lock holds item id of tenant until unlock is called, waiting (within
// ctx) for another replay or delete of the same item to finish.
func (s *Service) lock(ctx context.Context, tenant, id string) (func(), error) {
	key := tenant + "/" + id
	for {
		s.mu.Lock()
		held, ok := s.busy[key]
		if !ok {
			done := make(chan struct{})
			s.busy[key] = done
			s.mu.Unlock()
			return func() {
				s.mu.Lock()
				delete(s.busy, key)
				s.mu.Unlock()
				close(done)
			}, nil
		}
		s.mu.Unlock()
		select {
		case <-held:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
