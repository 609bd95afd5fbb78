package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/internal/cli"
	"github.com/sluicehq/sluice/internal/wasmbuild"
	"github.com/sluicehq/sluice/receipt"
)

// TestMain lets a test start this binary as `sluice …` in a subprocess.
func TestMain(m *testing.M) {
	if os.Getenv("SLUICE_AS_CLI") == "1" {
		ctx, stop := signalContext()
		code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 1)
	signalNotify(ch)
	go func() {
		select {
		case <-ch:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

type client struct {
	t    *testing.T
	base string
	key  string
}

func (c client) do(method, path, contentType string, body []byte) (int, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (c client) json(method, path string, in any, want int, out any) {
	c.t.Helper()
	var body []byte
	if in != nil {
		body, _ = json.Marshal(in)
	}
	code, b := c.do(method, path, "application/json", body)
	if code != want {
		c.t.Fatalf("%s %s = %d, want %d: %s", method, path, code, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

// Upload → connection → sync → objects readable → receipt verifies,
// through HTTP only, against `sluice serve` running as a subprocess.
func TestServeEndToEndOverHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess test")
	}
	f := setup(t, 500)
	wasm, err := os.ReadFile(f.module)
	if err != nil {
		t.Fatal(err)
	}
	mf, runbooks, err := wasmbuild.ReadBundleFiles(f.manifest)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(f.data, "admin.key")
	cmd := exec.Command(os.Args[0], "serve", "--data", f.data, "--addr", "127.0.0.1:0", "--allow-private", "--admin-key-file", keyFile)
	cmd.Env = append(os.Environ(), "SLUICE_AS_CLI=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	base := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`sluice API on (http://\S+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				base <- m[1]
			}
		}
	}()
	var c client
	select {
	case b := <-base:
		key, err := os.ReadFile(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		c = client{t: t, base: b, key: strings.TrimSpace(string(key))}
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not start: %s", stderr.String())
	}

	// Upload the bundle as a partner would.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	files := map[string][]byte{"module.wasm": wasm, "connector.json": mf}
	maps.Copy(files, runbooks) // a runbook's part is named by its path
	for name, data := range files {
		part, _ := mw.CreateFormFile(name, name)
		_, _ = part.Write(data)
	}
	_ = mw.Close()
	if code, b := c.do("POST", "/v1/connectors?partner=acme-partner", mw.FormDataContentType(), buf.Bytes()); code != 201 && code != 200 {
		t.Fatalf("upload = %d: %s", code, b)
	}

	var conn struct{ ID, State, AccountID string }
	c.json("POST", "/v1/tenants/acme/connections", map[string]any{
		"id": "dir", "connector": "directory", "version": "1.0.0", "scopes": []string{"users:read", "groups:read"},
		"config":      map[string]string{"base_url": f.base},
		"credentials": map[string]string{"client_id": sandbox.DefaultClientID, "client_secret": sandbox.DefaultClientSecret},
	}, 201, &conn)
	if conn.State != "active" {
		t.Fatalf("connection state = %q", conn.State)
	}

	var acc struct {
		RunID string `json:"run_id"`
	}
	c.json("POST", "/v1/tenants/acme/connections/dir/sync", map[string]any{"full": true}, 202, &acc)
	var run struct {
		State     string `json:"state"`
		ReceiptID string `json:"receipt_id"`
		Counts    struct{ Created int64 }
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		c.json("GET", "/v1/tenants/acme/connections/dir/runs/"+acc.RunID, nil, 200, &run)
		if run.State == "succeeded" || run.State == "failed" || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if run.State != "succeeded" || run.Counts.Created != 525 || run.ReceiptID == "" {
		t.Fatalf("run = %+v (server stderr: %s)", run, stderr.String())
	}

	var objs struct {
		Items []struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		} `json:"items"`
	}
	c.json("GET", "/v1/tenants/acme/objects?connection=dir&type=user&limit=5", nil, 200, &objs)
	if len(objs.Items) != 5 || objs.Items[0].Type != "user" || !bytes.Contains(objs.Items[0].Data, []byte(`"email"`)) {
		t.Fatalf("objects = %+v", objs)
	}

	code, env := c.do("GET", "/v1/tenants/acme/receipts/"+run.ReceiptID, "", nil)
	if code != 200 {
		t.Fatalf("receipt = %d: %s", code, env)
	}
	// The signing keys are public: the verifier fetches them itself.
	var signing struct {
		Items []struct {
			ID     string
			Public []byte
		}
	}
	c.json("GET", "/v1/signing-keys", nil, 200, &signing)
	ks := receipt.KeySet{}
	for _, k := range signing.Items {
		if id, err := ks.Add(k.Public); err != nil || id != k.ID {
			t.Fatalf("signing key %s: %v", k.ID, err)
		}
	}
	v, err := receipt.Verify(envelopeOf(env), ks)
	if err != nil {
		t.Fatalf("receipt from the API does not verify: %v\n%s", err, env)
	}
	p, _ := v.Ingest()
	if p.TenantID != "acme" || p.RunID != acc.RunID || p.Counts.Created != 525 {
		t.Fatalf("receipt predicate = %+v", p)
	}

	// Connection health joins the connector's health() with the host's
	// view: latency of the calls just made, the rate limiter, the last
	// success.
	var health struct {
		Remote  struct{ Reachable bool }
		Latency *struct {
			P50 float64 `json:"p50_ms"`
			P95 float64 `json:"p95_ms"`
		} `json:"latency"`
		RateLimit *struct {
			TokensLeft float64 `json:"tokens_left"`
		} `json:"rate_limit"`
		LastSuccessAt time.Time `json:"last_success_at"`
	}
	c.json("GET", "/v1/tenants/acme/connections/dir/health", nil, 200, &health)
	if !health.Remote.Reachable || health.Latency == nil || health.Latency.P50 <= 0 || health.RateLimit == nil || health.LastSuccessAt.IsZero() {
		t.Fatalf("health = %+v", health)
	}

	// Another tenant's key sees none of it.
	if code, _ := (client{t: t, base: c.base, key: "sk_not_a_key"}).do("GET", "/v1/tenants/acme/objects", "", nil); code != 401 {
		t.Fatalf("unknown key = %d, want 401", code)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exit: %v (%s)", err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not shut down")
	}
}

// envelopeOf accepts the receipt route's answer: the DSSE envelope
// itself, or an object carrying it under "envelope".
func envelopeOf(b []byte) []byte {
	var wrapped struct {
		Envelope json.RawMessage `json:"envelope"`
	}
	if json.Unmarshal(b, &wrapped) == nil && len(wrapped.Envelope) > 0 {
		return wrapped.Envelope
	}
	return b
}
