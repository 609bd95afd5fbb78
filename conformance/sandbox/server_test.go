package sandbox_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
)

func TestStartRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{
		"0.0.0.0:0",
		":0",
		"[::]:0",
		"192.168.1.10:0",
		"10.0.0.1:8080",
		"example.com:0",
		"localhost.example.com:0",
		"[::ffff:10.0.0.1]:0",
		"127.0.0.1", // no port
		"",
	} {
		t.Run(addr, func(t *testing.T) {
			s := sandbox.New(sandbox.Config{})
			base, err := s.Start(addr)
			var ae *sandbox.AddrError
			if !errors.Is(err, sandbox.ErrNotLoopback) || !errors.As(err, &ae) || ae.Addr != addr || base != "" {
				t.Fatalf("Start(%q) = %q, %v; want an AddrError", addr, base, err)
			}
			if !strings.Contains(err.Error(), "loopback") && !strings.Contains(err.Error(), "host:port") {
				t.Errorf("unclear error: %v", err)
			}
		})
	}
}

func TestLifecycle(t *testing.T) {
	s := sandbox.New(sandbox.Config{})
	if err := s.Close(); err != nil {
		t.Fatalf("Close before Start: %v", err)
	}
	s = sandbox.New(sandbox.Config{})
	base, err := s.Start("127.0.0.1:0")
	if err != nil || !regexp.MustCompile(`^http://127\.0\.0\.1:\d+$`).MatchString(base) {
		t.Fatalf("Start = %q, %v", base, err)
	}
	if _, err := s.Start("127.0.0.1:0"); !errors.Is(err, sandbox.ErrAlreadyStarted) {
		t.Errorf("second Start: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Start("127.0.0.1:0"); !errors.Is(err, sandbox.ErrClosed) {
		t.Errorf("Start after Close: %v", err)
	}
	if _, err := plainGet(base + "/api/v1/health"); err == nil {
		t.Error("a closed server still answers")
	}
}

func TestInvalidConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg   sandbox.Config
		field string
	}{
		{sandbox.Config{Users: 9}, "Users"},
		{sandbox.Config{Users: 1_000_001}, "Users"},
		{sandbox.Config{Users: -1}, "Users"},
		{sandbox.Config{TokenTTL: -time.Second}, "TokenTTL"},
		{sandbox.Config{TokenTTL: time.Millisecond}, "TokenTTL"},
		{sandbox.Config{RateLimit: -1}, "RateLimit"},
		{sandbox.Config{RateLimit: 1e300}, "RateLimit"},
		{sandbox.Config{RateBurst: -2}, "RateBurst"},
	} {
		var fe *sandbox.FieldError
		if err := tc.cfg.Validate(); !errors.Is(err, sandbox.ErrInvalidConfig) || !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%+v: Validate = %v, want a FieldError on %s", tc.cfg, err, tc.field)
		}
		s := sandbox.New(tc.cfg)
		if _, err := s.Start("127.0.0.1:0"); !errors.Is(err, sandbox.ErrInvalidConfig) {
			t.Errorf("%+v: Start = %v", tc.cfg, err)
		}
		srv := httptest.NewServer(s.Handler())
		resp, err := plainGet(srv.URL + "/api/v1/health")
		if err != nil || resp.StatusCode != http.StatusInternalServerError {
			t.Errorf("%+v: a misconfigured server answered %v, %v", tc.cfg, resp, err)
		}
		if resp != nil {
			resp.Body.Close()
		}
		srv.Close()
	}
	if err := (sandbox.Config{}).Validate(); err != nil {
		t.Errorf("the zero Config is invalid: %v", err)
	}
}

func TestControlPlaneAnswersLoopbackOnly(t *testing.T) {
	s := sandbox.New(sandbox.Config{})
	for _, remote := range []string{"203.0.113.7:5555", "[2001:db8::1]:5555"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/_sandbox/reset", nil)
		req.RemoteAddr = remote
		s.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden {
			t.Errorf("from %s: %d, want 403", remote, rec.Code)
		}
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/_sandbox/stats", nil)
	req.RemoteAddr = "127.0.0.1:5555"
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("from loopback: %d", rec.Code)
	}
}

// syncBuffer is an io.Writer safe to read while Run writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- sandbox.Run(ctx, "127.0.0.1:0", sandbox.Config{Users: 250, AccountID: "acct-run"}, &out)
	}()

	line := regexp.MustCompile(`^sandbox listening on (http://127\.0\.0\.1:\d+) \(users=250 account=acct-run\)\n$`)
	deadline := time.Now().Add(10 * time.Second)
	var m []string
	for m == nil && time.Now().Before(deadline) {
		m = line.FindStringSubmatch(out.String())
		time.Sleep(5 * time.Millisecond)
	}
	if m == nil {
		t.Fatalf("Run printed %q", out.String())
	}
	resp, err := plainGet(m[1] + "/api/v1/health")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("health via the announced URL: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if _, err := plainGet(m[1] + "/api/v1/health"); err == nil {
		t.Error("still serving after Run returned")
	}
	if err := sandbox.Run(context.Background(), "0.0.0.0:0", sandbox.Config{}, &out); !errors.Is(err, sandbox.ErrNotLoopback) {
		t.Errorf("Run on 0.0.0.0: %v", err)
	}
}

// TestConstructionCostIsIndependentOfUsers: a million-user server costs
// what a ten-user one does, because records are generated on demand.
func TestConstructionCostIsIndependentOfUsers(t *testing.T) {
	measure := func(users int) (allocs float64, bytes uint64) {
		allocs = testing.AllocsPerRun(20, func() { sandbox.New(sandbox.Config{Users: users}) })
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 20 {
			sandbox.New(sandbox.Config{Users: users})
		}
		runtime.ReadMemStats(&after)
		return allocs, (after.TotalAlloc - before.TotalAlloc) / 20
	}
	smallAllocs, smallBytes := measure(10)
	bigAllocs, bigBytes := measure(1_000_000)
	if bigAllocs != smallAllocs {
		t.Errorf("New allocates %v times for 1M users, %v for 10", bigAllocs, smallAllocs)
	}
	if bigBytes > smallBytes+4<<10 || bigBytes > 256<<10 {
		t.Errorf("New allocates %d bytes for 1M users, %d for 10", bigBytes, smallBytes)
	}
	t.Logf("New: %v allocations, %d bytes", bigAllocs, bigBytes)
}

func TestMillionUsersServeTheLastPage(t *testing.T) {
	_, c := start(t, sandbox.Config{Users: 1_000_000})
	u := decode[sandbox.User](t, c.get("/api/v1/users/u-1000000").ok(t).body)
	page := decode[sandbox.Page[sandbox.User]](t, c.get("/api/v1/users?limit=3&created_from="+u.CreatedAt.Format(time.RFC3339)).ok(t).body)
	if len(page.Data) != 1 || page.Data[0] != u || page.HasMore {
		t.Errorf("last user by created_from: %+v, want %+v", page, u)
	}
	late := decode[sandbox.Page[sandbox.User]](t, c.get("/api/v1/users?limit=1000&updated_since=2025-12-31T00:00:00Z").ok(t).body)
	for _, v := range late.Data {
		if !v.UpdatedAt.After(time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("%s updated %v", v.ID, v.UpdatedAt)
		}
	}
}
