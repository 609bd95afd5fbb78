package engine_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/receipt"
)

func failedReceipt(t *testing.T, r *rig, res *engine.Result) receipt.Ingest {
	t.Helper()
	if res == nil {
		t.Fatal("no result for a failed run")
	}
	v, err := receipt.Verify(res.Envelope, r.keys())
	if err != nil {
		t.Fatalf("failed run's receipt: %v", err)
	}
	p, err := v.Ingest()
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != "failed" || len(p.Errors) == 0 {
		t.Fatalf("receipt status=%q errors=%v, want failed with errors", p.Status, p.Errors)
	}
	return p
}

func TestUndeclaredHostIsDenied(t *testing.T) {
	r := newRig(t, rigOptions{})
	_, base := startSandbox(t, sandboxConfig(20))
	mod := r.module("undeclared-host", nil)
	res, err := r.eng.Sync(context.Background(), r.conn("acme", mod, base), engine.RunOptions{Full: true})
	if !errors.Is(err, engine.ErrRunFailed) {
		t.Fatalf("err = %v, want a failed run", err)
	}
	p := failedReceipt(t, r, res)
	if !strings.Contains(p.Errors[0].Type, "denied_host") {
		t.Fatalf("receipt error type = %q, want an egress denied_host", p.Errors[0].Type)
	}
}

// A declared host name that resolves to a forbidden (loopback) address is
// refused at dial time when private networks are not allowed.
func TestDeclaredHostResolvingToForbiddenAddressIsDenied(t *testing.T) {
	allow := false
	r := newRig(t, rigOptions{allowPrivate: &allow})
	sb := sandbox.New(sandboxConfig(20))
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	u, _ := url.Parse(base)
	base = "http://localhost:" + u.Port()
	// API-key auth: no token fetch stands between the connector and the
	// dial that must be refused.
	mod := r.module("directory", func(m *protocol.Manifest) {
		m.Hosts = []protocol.HostRule{{Host: "localhost:" + u.Port(), Methods: []string{"GET"}, Scheme: "http"}}
		m.Auth = protocol.Auth{Kind: protocol.AuthAPIKey}
	})
	conn := r.conn("acme", mod, base)
	creds, scrub, err := r.eng.Credentials(mod.Manifest, conn.Config, map[string]string{"api_key": sandbox.DefaultAPIKey})
	if err != nil {
		t.Fatal(err)
	}
	conn.Credentials, conn.Scrub = creds, scrub
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := r.eng.Sync(ctx, conn, engine.RunOptions{Full: true})
	if !errors.Is(err, engine.ErrRunFailed) {
		t.Fatalf("err = %v, want a failed run", err)
	}
	p := failedReceipt(t, r, res)
	if !strings.Contains(p.Errors[0].Type+p.Errors[0].Message, "address") {
		t.Fatalf("receipt errors = %+v, want a denied address", p.Errors)
	}
	var got int64
	for _, n := range sb.Stats().Requests {
		got += n
	}
	if got != 0 {
		t.Fatalf("the sandbox saw %d requests; the dialer must refuse before connecting", got)
	}
}

func TestRateLimitStormCompletesWithinLimit(t *testing.T) {
	r := newRig(t, rigOptions{})
	cfg := sandboxConfig(3000)
	cfg.RateLimit, cfg.RateBurst = 40, 5
	sb, base := startSandbox(t, cfg)
	mod := r.module("directory", func(m *protocol.Manifest) {
		m.RateLimit = protocol.RateLimit{RequestsPerSecond: 20, Burst: 2}
	})
	if err := sb.SetFaults(sandbox.Faults{RateLimitStorm: 4, RetryAfter: time.Second}); err != nil {
		t.Fatal(err)
	}
	res, err := r.eng.Sync(context.Background(), r.conn("acme", mod, base), engine.RunOptions{Full: true, Streams: []string{"users"}, PageSize: 100})
	if err != nil {
		t.Fatalf("sync under a 429 storm: %v", err)
	}
	if res.Run.Counts.Created != 3000 {
		t.Fatalf("created %d, want 3000", res.Run.Counts.Created)
	}
	st := sb.Stats()
	if st.TooManyRequests < 4 {
		t.Fatalf("sandbox sent %d 429s, want at least the storm's 4", st.TooManyRequests)
	}
	if res.RateLimited < 4 {
		t.Fatalf("the run counted %d rate-limit hits, want at least 4", res.RateLimited)
	}
	// The host's limiter allows 20/s with a burst of 2: no 1 s window may
	// hold more than rate + burst successful requests.
	if st.MaxRequestsPerSecond > 22 {
		t.Fatalf("sandbox saw %d requests in one second, limit is 20 (+2 burst)", st.MaxRequestsPerSecond)
	}
}
