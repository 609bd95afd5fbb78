package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

// ReceiptKind is the store.Receipt kind of a purge receipt.
const ReceiptKind = "purge"

// Manifests finds the manifest of a connector version.
type Manifests func(ctx context.Context, connector, version string) (*protocol.Manifest, error)

// Config configures a Sweeper. Store and Signer are required; every other
// zero value is documented.
type Config struct {
	Store  *store.DB
	Signer *receipt.Signer
	// Manifests finds a connection's manifest; nil reads the connector
	// registry of Store.
	Manifests Manifests
	// Now is the clock the windows are measured against; nil is time.Now.
	Now func() time.Time
	// Interval is the period of Start's sweeps (0 = one hour).
	Interval time.Duration
	// TapeRetention drops run tapes of runs started longer ago; zero
	// keeps them.
	TapeRetention time.Duration
	// DLQRetention drops dead-letter items whose last failure is longer
	// ago (recorded as deleted by "system:retention"); zero keeps them.
	DLQRetention time.Duration
	// Logger receives one line per purge; nil discards.
	Logger *slog.Logger
}

// Sweeper purges expired data. Safe for concurrent use.
type Sweeper struct {
	cfg  Config
	log  *slog.Logger
	mu   sync.Mutex
	stop context.CancelFunc
	done chan struct{}
}

// Purge is one signed purge.
type Purge struct {
	Tenant, Connection, ObjectType string
	Count, Edges                   int
	ReceiptID                      string
	Envelope                       []byte
}

// Report is what one Sweep did.
type Report struct {
	Purges []Purge
	Tapes  int
	DLQ    int
}

// New returns a Sweeper; it does no I/O.
func New(cfg Config) (*Sweeper, error) {
	if cfg.Store == nil || cfg.Signer == nil {
		return nil, errors.New("retention: Config.Store and Config.Signer are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Hour
	}
	if cfg.Manifests == nil {
		db := cfg.Store
		cfg.Manifests = func(ctx context.Context, connector, version string) (*protocol.Manifest, error) {
			v, err := db.Platform().RegistryVersion(ctx, connector, version)
			if err != nil {
				return nil, err
			}
			return manifest.Parse(v.Manifest)
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sweeper{cfg: cfg, log: log}, nil
}

// Sweep makes one pass over every tenant and connection. A connection
// whose manifest cannot be read is skipped and reported in the joined
// error; the others are still swept.
func (s *Sweeper) Sweep(ctx context.Context) (Report, error) {
	var (
		rep  Report
		errs []error
	)
	tenants, err := s.cfg.Store.Tenants(ctx)
	if err != nil {
		return rep, err
	}
	now := s.cfg.Now().UTC()
	for _, id := range tenants {
		t, err := s.cfg.Store.Tenant(id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := s.sweepTenant(ctx, t, now, &rep); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", id, err))
		}
	}
	return rep, errors.Join(errs...)
}

func (s *Sweeper) sweepTenant(ctx context.Context, t *store.Tenant, now time.Time, rep *Report) error {
	var errs []error
	after := ""
	for {
		conns, next, err := t.Connections(ctx, after, 1000)
		if err != nil {
			return err
		}
		for _, c := range conns {
			if err := s.sweepConnection(ctx, t, c, now, rep); err != nil {
				errs = append(errs, fmt.Errorf("connection %s: %w", c.ID, err))
			}
		}
		if next == "" {
			break
		}
		after = next
	}
	if d := s.cfg.TapeRetention; d > 0 {
		n, err := t.PurgeTapes(ctx, now.Add(-d))
		rep.Tapes += n
		errs = append(errs, err)
	}
	if d := s.cfg.DLQRetention; d > 0 {
		n, err := s.purgeDLQ(ctx, t, now, now.Add(-d))
		rep.DLQ += n
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// windows is each object type's retention window for c.
func windows(m *protocol.Manifest, c store.Connection) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, ot := range m.ObjectTypes {
		days, ok := c.RetentionDays[ot.Name]
		if !ok {
			days = m.RetentionDays
		}
		if days > 0 {
			out[ot.Name] = time.Duration(days) * 24 * time.Hour
		}
	}
	return out
}

func (s *Sweeper) sweepConnection(ctx context.Context, t *store.Tenant, c store.Connection, now time.Time, rep *Report) error {
	m, err := s.cfg.Manifests(ctx, c.Connector, c.Version)
	if err != nil {
		return fmt.Errorf("manifest %s %s: %w", c.Connector, c.Version, err)
	}
	w := windows(m, c)
	types := make([]string, 0, len(w))
	for typ := range w {
		types = append(types, typ)
	}
	sort.Strings(types)
	for _, typ := range types {
		cutoff := now.Add(-w[typ])
		res, err := t.PurgeExpired(ctx, c.ID, typ, cutoff, 0)
		if err != nil {
			return err
		}
		if len(res.Objects) == 0 {
			continue
		}
		p, err := s.sign(ctx, t, c.ID, typ, w[typ], cutoff, now, res)
		if err != nil {
			// The objects are gone; the receipt is what failed. Say so.
			return fmt.Errorf("purged %d %s objects but could not record the purge receipt: %w", len(res.Objects), typ, err)
		}
		rep.Purges = append(rep.Purges, p)
		s.log.Info("retention purge", "tenant", t.ID(), "connection", c.ID, "type", typ, "objects", p.Count, "edges", p.Edges, "receipt", p.ReceiptID)
	}
	return nil
}

func (s *Sweeper) sign(ctx context.Context, t *store.Tenant, conn, typ string, window time.Duration, cutoff, now time.Time, res store.PurgeResult) (Purge, error) {
	pb := receipt.NewPayloadBuilder()
	for _, o := range res.Objects {
		d, err := receipt.ParseDigest(o.Digest)
		if err != nil {
			return Purge{}, fmt.Errorf("digest of %s: %w", o.EntityID, err)
		}
		if err := pb.Add(o.EntityID, d); err != nil {
			return Purge{}, err
		}
	}
	root, count := pb.Root()
	id, err := uuid.NewV7()
	if err != nil {
		return Purge{}, err
	}
	rid := "purge-" + id.String()
	pred := receipt.Purge{
		ReceiptID: rid, TenantID: t.ID(), Connection: conn, ObjectType: typ,
		RetentionSeconds: int64(window / time.Second), Cutoff: receipt.FormatTime(cutoff), PurgedAt: receipt.FormatTime(now),
		Count: count, Root: fmt.Sprintf("%x", root[:]), Edges: int64(res.Edges),
	}
	env, err := s.cfg.Signer.SignPurge(ctx, pred)
	if err != nil {
		return Purge{}, err
	}
	if err := t.PutReceipt(ctx, store.Receipt{ID: rid, Kind: ReceiptKind, Envelope: env, CreatedAt: now}); err != nil {
		return Purge{}, err
	}
	return Purge{Tenant: t.ID(), Connection: conn, ObjectType: typ, Count: int(count), Edges: res.Edges, ReceiptID: rid, Envelope: env}, nil
}

// purgeDLQ removes dead-letter items whose last failure is before cutoff.
func (s *Sweeper) purgeDLQ(ctx context.Context, t *store.Tenant, now, cutoff time.Time) (int, error) {
	n, after := 0, ""
	for {
		items, next, err := t.DLQItems(ctx, "", after, 1000)
		if err != nil {
			return n, err
		}
		for _, it := range items {
			if !it.LastFailure.Before(cutoff) {
				continue
			}
			err := t.RemoveDLQItem(ctx, it.ID, store.DLQRemoval{ItemID: it.ID, Connection: it.Connection, Reason: store.DLQDeleted, By: "system:retention", At: now})
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return n, err
			}
			n++
		}
		if next == "" {
			return n, nil
		}
		after = next
	}
}

// Start sweeps every Interval until Shutdown, the first sweep at once.
func (s *Sweeper) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		return ErrStarted
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stop, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		tick := time.NewTicker(s.cfg.Interval)
		defer tick.Stop()
		for {
			if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("retention sweep", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return nil
}

// Shutdown stops the loop and waits for a sweep in progress, or ctx.
func (s *Sweeper) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	stop, done := s.stop, s.done
	s.mu.Unlock()
	if stop == nil {
		return nil
	}
	stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
