package outbound

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sluicehq/sluice/store"
)

// Record is one NDJSON line of a connection's stream: an object as the
// host accepted it (allow-list applied), with its payload digest.
type Record struct {
	Tenant     string          `json:"tenant"`
	Connection string          `json:"connection"`
	RunID      string          `json:"run_id"`
	EntityID   string          `json:"entity_id"`
	Type       string          `json:"type"`
	SourceID   string          `json:"source_id"`
	Digest     string          `json:"digest"`
	CreatedAt  string          `json:"created_at,omitempty"`
	UpdatedAt  string          `json:"updated_at,omitempty"`
	ObservedAt time.Time       `json:"observed_at"`
	Data       json.RawMessage `json:"data"`
}

// Config configures a Hub. The zero value streams to subscribers only.
type Config struct {
	// FileDir, if set, is the file sink: every record is also appended
	// to FileDir/{tenant}/{connection}.ndjson (owner-only permissions).
	FileDir string
	// Buffer is the per-subscriber channel size (0 = 1024 lines).
	Buffer int
}

// Hub fans delivered objects out to subscribers and the file sink. It is
// safe for concurrent use; the zero value is not usable, call New.
type Hub struct {
	cfg Config

	mu     sync.Mutex
	subs   map[key]map[*sub]struct{}
	closed bool
	fileMu sync.Mutex
	// Undelivered counts pages that reached no subscriber and no file.
	undelivered int64
}

type key struct{ tenant, connection string }

type sub struct {
	ch   chan []byte
	done chan struct{}
	once sync.Once
}

// New returns a Hub; it does no I/O.
func New(cfg Config) *Hub {
	if cfg.Buffer <= 0 {
		cfg.Buffer = 1024
	}
	return &Hub{cfg: cfg, subs: map[key]map[*sub]struct{}{}}
}

// Subscription is one live reader of a connection's stream.
type Subscription struct {
	// C carries NDJSON lines (each without its newline).
	C <-chan []byte
	// Done is closed when the subscription ends (Cancel or Hub.Close).
	Done <-chan struct{}
	// Cancel ends the subscription; it may be called more than once.
	Cancel func()
}

// Subscribe returns the lines of the connection's objects delivered from
// now on.
func (h *Hub) Subscribe(tenant, connection string) (*Subscription, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	s := &sub{ch: make(chan []byte, h.cfg.Buffer), done: make(chan struct{})}
	k := key{tenant, connection}
	if h.subs[k] == nil {
		h.subs[k] = map[*sub]struct{}{}
	}
	h.subs[k][s] = struct{}{}
	cancel := func() {
		s.once.Do(func() { close(s.done) })
		h.mu.Lock()
		delete(h.subs[k], s)
		if len(h.subs[k]) == 0 {
			delete(h.subs, k)
		}
		h.mu.Unlock()
	}
	return &Subscription{C: s.ch, Done: s.done, Cancel: cancel}, nil
}

// Subscribers reports how many subscribers a connection has.
func (h *Hub) Subscribers(tenant, connection string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs[key{tenant, connection}])
}

// Undelivered counts the pages that found no subscriber and no file sink.
func (h *Hub) Undelivered() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.undelivered
}

// Deliver sends a page's objects to every subscriber of the connection
// and to the file sink. It blocks while a subscriber's buffer is full,
// until ctx ends (then it returns ctx's error: the engine fails the page
// rather than lose objects silently).
func (h *Hub) Deliver(ctx context.Context, tenant, connection, runID string, objs []store.Object) error {
	if len(objs) == 0 {
		return nil
	}
	lines := make([][]byte, len(objs))
	for i, o := range objs {
		b, err := json.Marshal(Record{
			Tenant: tenant, Connection: connection, RunID: runID, EntityID: o.EntityID, Type: o.Type,
			SourceID: o.SourceID, Digest: o.Digest, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt,
			ObservedAt: o.ObservedAt.UTC(), Data: o.Data,
		})
		if err != nil {
			return fmt.Errorf("outbound: encode %s: %w", o.EntityID, err)
		}
		lines[i] = b
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return ErrClosed
	}
	var subs []*sub
	for s := range h.subs[key{tenant, connection}] {
		subs = append(subs, s)
	}
	if len(subs) == 0 && h.cfg.FileDir == "" {
		h.undelivered++
	}
	h.mu.Unlock()
	if h.cfg.FileDir != "" {
		if err := h.appendFile(tenant, connection, lines); err != nil {
			return err
		}
	}
	for _, s := range subs {
		for _, l := range lines {
			select {
			case s.ch <- l:
			case <-s.done: // gone: skip the rest for it
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// appendFile writes lines to the connection's file; tenant and
// connection are store-validated ids (no '/'), so the path stays inside
// FileDir.
func (h *Hub) appendFile(tenant, connection string, lines [][]byte) error {
	h.fileMu.Lock()
	defer h.fileMu.Unlock()
	dir := filepath.Join(h.cfg.FileDir, tenant)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("outbound: file sink: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, connection+".ndjson"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("outbound: file sink: %w", err)
	}
	var buf []byte
	for _, l := range lines {
		buf = append(append(buf, l...), '\n')
	}
	_, werr := f.Write(buf)
	if err := f.Close(); werr == nil {
		werr = err
	}
	if werr != nil {
		return fmt.Errorf("outbound: file sink: %w", werr)
	}
	return nil
}

// Close ends every subscription: their Deliver stops waiting for them.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for k, set := range h.subs {
		for s := range set {
			s.once.Do(func() { close(s.done) })
		}
		delete(h.subs, k)
	}
}
