package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/store"
)

func TestCheckListenAddr(t *testing.T) {
	tests := []struct {
		addr   string
		public bool
		ok     bool
	}{
		{"127.0.0.1:8080", false, true},
		{"127.0.0.2:0", false, true},
		{"[::1]:8080", false, true},
		{"localhost:8080", false, true},
		{":8080", false, false},
		{"0.0.0.0:8080", false, false},
		{"10.1.2.3:8080", false, false},
		{"example.com:80", false, false},
		{"127.0.0.1", false, false}, // no port
		{"0.0.0.0:8080", true, true},
		{":8080", true, true},
	}
	for _, tc := range tests {
		if err := checkListenAddr(tc.addr, tc.public); (err == nil) != tc.ok {
			t.Errorf("checkListenAddr(%q, public=%v) = %v, want ok=%v", tc.addr, tc.public, err, tc.ok)
		}
	}
}

func TestServeRefusesPublicAddrWithoutFlag(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"serve", "--data", t.TempDir(), "--addr", "0.0.0.0:0"}, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "--public") {
		t.Fatalf("exit %d, stderr %q; want 2 naming --public", code, errb.String())
	}
}

// lockedBuffer lets the test read what the server prints while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor polls out until re matches, and returns the first group.
func waitFor(t *testing.T, out *lockedBuffer, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %v in output: %s", re, out)
	return ""
}

type serving struct {
	base string
	out  *lockedBuffer
	stop context.CancelFunc
	done chan int
}

func startServe(t *testing.T, args ...string) serving {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := serving{out: &lockedBuffer{}, stop: cancel, done: make(chan int, 1)}
	errb := &lockedBuffer{}
	go func() { s.done <- Main(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), s.out, errb) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	})
	s.base = waitFor(t, s.out, regexp.MustCompile(`sluice API on (http://\S+)`))
	return s
}

func get(t *testing.T, url, key string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeBootstrapsServesAndShutsDownGracefully(t *testing.T) {
	data := t.TempDir()
	s := startServe(t, "--data", data)
	key := waitFor(t, s.out, regexp.MustCompile(`admin key \(shown once; store it now\): (sk_\S+)`))

	if code, body := get(t, s.base+"/healthz", ""); code != 200 {
		t.Fatalf("healthz: %d %s", code, body)
	}
	if code, body := get(t, s.base+"/v1/keys", key); code != 200 || !strings.Contains(body, `"role":"admin"`) {
		t.Fatalf("keys with the bootstrap key: %d %s", code, body)
	}
	if code, body := get(t, s.base+"/v1/connectors", key); code != 200 || !strings.Contains(body, `"items":[]`) {
		t.Fatalf("connectors from the registry: %d %s", code, body)
	}
	if code, body := get(t, s.base+"/v1/tenants/acme/connections/c1/runs", key); code != 404 || !strings.Contains(body, "path.connection") {
		t.Fatalf("runs of a connection that does not exist: %d %s, want 404 naming it", code, body)
	}
	if code, body := get(t, s.base+"/metrics", ""); code != 200 || !strings.Contains(body, "go_goroutines") || !strings.Contains(body, "sluice_http_requests_total") {
		t.Fatalf("metrics: %d", code)
	}

	// A request in flight when shutdown starts still completes.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", s.base+"/v1/keys", pr)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	answered := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- -1
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	if _, err := pw.Write([]byte(`{"role":`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	s.stop()
	waitFor(t, s.out, regexp.MustCompile(`(shutting down)`))
	select {
	case code := <-s.done:
		t.Fatalf("serve exited (%d) with a request in flight", code)
	case <-time.After(200 * time.Millisecond):
	}
	_, _ = pw.Write([]byte(`"reviewer"}`))
	_ = pw.Close()
	if code := <-answered; code != 201 {
		t.Fatalf("in-flight request answered %d, want 201", code)
	}
	if code := <-s.done; code != 0 {
		t.Fatalf("serve exit code %d; output %s", code, s.out)
	}
	s.done <- 0 // for the cleanup

	// The store was closed: it opens again, and keeps the admin key.
	db, err := store.Open(store.Options{Dir: filepath.Join(data, "store")})
	if err != nil {
		t.Fatalf("reopen store after shutdown: %v", err)
	}
	keys, err := db.Platform().APIKeys(context.Background())
	_ = db.Close()
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys after restart: %v, %v; want the bootstrap key and the one created in flight", keys, err)
	}

	// A second start bootstraps nothing and the key still works.
	s2 := startServe(t, "--data", data)
	if code, _ := get(t, s2.base+"/v1/keys", key); code != 200 {
		t.Fatalf("bootstrap key after restart: %d", code)
	}
	if strings.Contains(s2.out.String(), "admin key") {
		t.Errorf("second start printed an admin key: %s", s2.out)
	}
}

func TestServeWritesAdminKeyFile(t *testing.T) {
	data := t.TempDir()
	file := filepath.Join(t.TempDir(), "admin.key")
	s := startServe(t, "--data", data, "--admin-key-file", file)
	waitFor(t, s.out, regexp.MustCompile(`(admin key written)`))
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	key := strings.TrimSpace(string(b))
	if strings.Contains(s.out.String(), key) {
		t.Error("the key was printed as well as written")
	}
	if code, _ := get(t, s.base+"/v1/keys", key); code != 200 {
		t.Fatalf("key from file: %d", code)
	}
}
