package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// shutdownGrace bounds how long Run waits for in-flight requests.
const shutdownGrace = 5 * time.Second

// Server is one sandbox tenant. It is safe for concurrent use.
type Server struct {
	cfg     Config // defaults applied
	cfgErr  error
	data    dataset
	handler http.Handler

	mu         sync.RWMutex
	mutated    map[int]User // user index → current record, tombstones included
	mutatedIdx []int        // keys of mutated, ascending
	lastStamp  int64        // Unix seconds of the latest mutation
	writes     writeState   // users and memberships changed through the write API (writes.go)

	compliance complianceState // the tenant's security settings (compliance.go)
	hooks      webhookSender   // subscriptions and deliveries (webhooks.go)
	tickets    ticketState     // tickets and comments changed since the seed (tickets.go)

	tokens   tokenStore
	grants   grantStore // authorization codes and refresh tokens (authorize.go)
	limiters limiterSet
	faults   faultInjector
	stats    statsRecorder

	life    sync.Mutex
	state   lifeState
	httpSrv *http.Server
	done    chan struct{} // closed when Serve returns
	serve   error         // what Serve returned; read after done
}

type lifeState int

const (
	idle lifeState = iota
	serving
	closed
)

// New returns a server for cfg. It does no I/O and allocates nothing per
// user. A cfg that fails Validate makes Start and Run return the error
// and Handler answer 500 to every request.
func New(cfg Config) *Server {
	s := &Server{cfgErr: cfg.Validate(), cfg: cfg.withDefaults()}
	s.data = newDataset(s.cfg.Seed, s.cfg.Users)
	s.mutated = make(map[int]User)
	s.tokens.tokens = make(map[string]issuedToken)
	s.limiters = limiterSet{limit: rate.Limit(s.cfg.RateLimit), burst: s.cfg.RateBurst, buckets: make(map[string]*rate.Limiter)}
	s.faults.seed = seedHash(s.cfg.Seed, saltFaults, 0)
	s.faults.set(Faults{})
	s.stats.requests = make(map[string]int64)
	s.stats.methods = make(map[string]int64)
	s.stats.calls = make(map[string]int64)
	s.writes.reset()
	s.compliance = newComplianceState(s.cfg.Compliance)
	s.hooks.init()
	if s.cfgErr != nil {
		s.handler = misconfigured(s.cfgErr)
	} else {
		s.handler = s.routes()
	}
	return s
}

// Handler returns the HTTP API, for mounting or httptest.NewServer.
func (s *Server) Handler() http.Handler { return s.handler }

// Users returns the number of users the seed generated; users created
// through POST /api/v1/users come on top.
func (s *Server) Users() int { return s.data.users }

// Account returns the tenant as GET /api/v1/account serves it.
func (s *Server) Account() Account { return s.account() }

// Start listens on addr and serves in the background until Close. addr's
// host must be a loopback IP (127.0.0.0/8, ::1) or "localhost"; port 0
// picks a free port. It returns the base URL, e.g. "http://127.0.0.1:54321".
func (s *Server) Start(addr string) (string, error) {
	if s.cfgErr != nil {
		return "", s.cfgErr
	}
	if err := checkLoopback(addr); err != nil {
		return "", err
	}
	s.life.Lock()
	defer s.life.Unlock()
	switch s.state {
	case serving:
		return "", ErrAlreadyStarted
	case closed:
		return "", ErrClosed
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("sandbox: listen on %s: %w", addr, err)
	}
	// "localhost" is resolved by the system; trust only where it landed.
	if ap, err := netip.ParseAddrPort(ln.Addr().String()); err != nil || !ap.Addr().Unmap().IsLoopback() {
		_ = ln.Close() // refusing anyway; a close error adds nothing
		return "", &AddrError{Addr: addr, Reason: "resolved to non-loopback " + ln.Addr().String()}
	}
	s.httpSrv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
	}
	s.done = make(chan struct{})
	go func(srv *http.Server, done chan struct{}) {
		s.serve = srv.Serve(ln)
		close(done)
	}(s.httpSrv, s.done)
	s.state = serving
	return "http://" + ln.Addr().String(), nil
}

// checkLoopback accepts host:port whose host is a loopback IP or "localhost".
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return &AddrError{Addr: addr, Reason: "want host:port, e.g. 127.0.0.1:0"}
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if host == "" {
		return &AddrError{Addr: addr, Reason: "an empty host listens on every interface; use 127.0.0.1"}
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Unmap().IsLoopback() {
		return &AddrError{Addr: addr, Reason: "host is not a loopback IP (127.0.0.0/8, ::1) or localhost"}
	}
	return nil
}

// Close stops serving at once, dropping open connections. It is safe to
// call more than once and before Start.
func (s *Server) Close() error {
	defer s.hooks.close() // stop webhook deliveries too, even if never started
	return s.stop(func(srv *http.Server) error { return srv.Close() })
}

// shutdown stops accepting, then waits for in-flight requests until ctx
// ends, when it drops the rest.
func (s *Server) shutdown(ctx context.Context) error {
	defer s.hooks.close()
	return s.stop(func(srv *http.Server) error {
		err := srv.Shutdown(ctx)
		if err != nil {
			_ = srv.Close() // the Shutdown error is the one worth reporting
		}
		return err
	})
}

func (s *Server) stop(halt func(*http.Server) error) error {
	s.life.Lock()
	defer s.life.Unlock()
	was := s.state
	s.state = closed
	if was != serving {
		return nil
	}
	err := halt(s.httpSrv)
	<-s.done
	if err != nil {
		return fmt.Errorf("sandbox: stop: %w", err)
	}
	return nil
}

// Run serves cfg on addr until ctx is done, then shuts down gracefully and
// returns nil. It writes one line to out once listening:
//
//	sandbox listening on http://127.0.0.1:PORT (users=N account=ID)
//
// The `sluice sandbox` command is a thin wrapper around it.
func Run(ctx context.Context, addr string, cfg Config, out io.Writer) error {
	s := New(cfg)
	base, err := s.Start(addr)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(out, "sandbox listening on %s (users=%d account=%s)\n", base, s.cfg.Users, s.cfg.AccountID); err != nil {
		return errors.Join(fmt.Errorf("sandbox: announce: %w", err), s.Close())
	}
	select {
	case <-ctx.Done():
	case <-s.done:
		return errors.Join(fmt.Errorf("sandbox: serve: %w", s.serve), s.Close())
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	return s.shutdown(sctx)
}
