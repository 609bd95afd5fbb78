package api

import (
	"net/http"
	"time"

	"github.com/sluicehq/sluice/outbound"
)

// Streams is the outbound sink of no-persistent-indexing connections
// (*outbound.Hub implements it).
type Streams interface {
	Subscribe(tenant, connection string) (*outbound.Subscription, error)
}

var _ Streams = (*outbound.Hub)(nil)

// streamKeepAlive is how often an idle stream sends an empty line, so
// proxies and clients can tell a quiet connection from a dead one.
const streamKeepAlive = 15 * time.Second

// streamRoutes lists the routes of this file; see routeTable.
func (s *Server) streamRoutes() []route {
	return []route{
		{method: http.MethodGet, pattern: "/v1/tenants/{tenant}/connections/{connection}/stream", access: accessTenant, handler: s.getStream},
	}
}

// getStream is a long-lived NDJSON response: one outbound.Record per
// line for every object runs of the connection deliver from the moment
// of the request, until the client goes away or the server shuts down.
// Objects delivered while no one listens are not replayed: a consumer
// that must not miss any uses the file sink (docs/RATIONALE.md).
// ?timeout= (a Go duration, 1ms to 24h) ends the response after that
// long, for clients that poll.
func (s *Server) getStream(w http.ResponseWriter, r *http.Request) {
	if s.streams == nil {
		s.writeError(w, r, notWired("streams"))
		return
	}
	var deadline <-chan time.Time
	if v := r.URL.Query().Get("timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Millisecond || d > 24*time.Hour {
			s.writeError(w, r, invalidField("query.timeout", "must be a duration from 1ms to 24h, got %s", quoteShort(v)))
			return
		}
		tm := time.NewTimer(d)
		defer tm.Stop()
		deadline = tm.C
	}
	t := tenantFrom(r.Context())
	id := param(r, "connection")
	if s.connections != nil {
		if _, err := s.connections.Get(r.Context(), t, id); err != nil {
			s.writeError(w, r, pathNotFound(err, "path.connection"))
			return
		}
	}
	sub, err := s.streams.Subscribe(t.ID(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer sub.Cancel()
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // long-lived: no write timeout
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	tick := time.NewTicker(streamKeepAlive)
	defer tick.Stop()
	for {
		var line []byte
		select {
		case <-r.Context().Done():
			return
		case <-sub.Done:
			return
		case <-deadline:
			return
		case <-tick.C:
			line = nil
		case line = <-sub.C:
		}
		if _, err := w.Write(append(line, '\n')); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
