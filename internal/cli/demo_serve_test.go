package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/kms/kmstest"
)

// serve --demo: two tenants on their own sandbox remotes, every demo
// credential in demo.json, a first sync of each, and tenant isolation.
func TestServeDemo(t *testing.T) {
	wasm, manifest := directoryBuild(t)
	data := t.TempDir()
	s := startServe(t, "--data", data, "--demo", "--demo-module", wasm, "--demo-manifest", manifest)
	waitFor(t, s.out, regexp.MustCompile(`(demo ready)`))
	if n := strings.Count(s.out.String(), "curl -s -H"); n != 3 {
		t.Fatalf("want three curl lines, got %d:\n%s", n, s.out.String())
	}
	raw, err := os.ReadFile(filepath.Join(data, "demo.json"))
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(data, "demo.json")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("demo.json mode %o, want 600", fi.Mode().Perm())
	}
	var demo demoFile
	if err := json.Unmarshal(raw, &demo); err != nil {
		t.Fatal(err)
	}
	if demo.AdminKey == "" || demo.PartnerKey == "" || demo.ReviewerKey == "" || len(demo.Tenants) != 2 {
		t.Fatalf("demo.json = %s", raw)
	}
	acme, globex := demo.Tenants["acme"], demo.Tenants["globex"]
	deadline := time.Now().Add(2 * time.Minute)
	for {
		code, body := get(t, s.base+"/v1/tenants/acme/connections/directory/runs", acme.Key)
		if code == 200 && strings.Contains(body, `"state":"succeeded"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("acme's first sync did not succeed: %d %s", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, body := get(t, s.base+"/v1/tenants/acme/objects?connection=directory&type=user&limit=2", acme.Key); code != 200 || !strings.Contains(body, `"type":"user"`) {
		t.Fatalf("acme objects: %d %s", code, body)
	}
	if code, _ := get(t, s.base+"/v1/tenants/acme/objects", globex.Key); code != 403 {
		t.Fatalf("globex reading acme = %d, want 403", code)
	}
	if code, _ := get(t, s.base+"/v1/connectors", demo.ReviewerKey); code != 200 {
		t.Fatalf("reviewer listing connectors = %d, want 200", code)
	}
	// The demo uploads the runbooks beside the manifest: each error type
	// the connector reports has its page, served as shipped.
	want := readFile(t, filepath.Join(filepath.Dir(manifest), "runbooks", "unsupported_event.md"))
	if code, body := get(t, s.base+"/v1/connectors/directory/versions/1.0.0/runbooks/unsupported_event", acme.Key); code != 200 || body != string(want) {
		t.Fatalf("runbook unsupported_event = %d %q, want the shipped Markdown", code, body)
	}
}

func call(t *testing.T, method, url, key, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// Graceful shutdown interrupts a running sync without failing it; the
// restarted server resumes it under the same run id from its last
// checkpoint.
func TestServeResumesInterruptedRunAfterRestart(t *testing.T) {
	wasm, manifest := directoryBuild(t)
	sb := sandbox.New(sandbox.Config{Users: 5000})
	remote, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	if err := sb.SetFaults(sandbox.Faults{LatencyRate: 1, Latency: 150 * time.Millisecond, PathPrefix: "/api/v1/users"}); err != nil {
		t.Fatal(err)
	}

	data := t.TempDir()
	keyFile := filepath.Join(data, "admin.key")
	s1 := startServe(t, "--data", data, "--allow-private", "--admin-key-file", keyFile)
	key := adminKey(t, keyFile)
	upload(t, s1.base, key, readBundle(t, wasm, manifest))
	body, _ := json.Marshal(map[string]any{"id": "dir", "connector": "directory", "version": "1.0.0",
		"scopes": []string{"users:read", "groups:read"}, "config": map[string]string{"base_url": remote},
		"credentials": map[string]string{"client_id": sandbox.DefaultClientID, "client_secret": sandbox.DefaultClientSecret}})
	if code, b := call(t, "POST", s1.base+"/v1/tenants/acme/connections", key, "application/json", body); code != 201 {
		t.Fatalf("connection: %d %s", code, b)
	}
	code, b := call(t, "POST", s1.base+"/v1/tenants/acme/connections/dir/sync", key, "application/json", []byte(`{"full":true}`))
	if code != 202 {
		t.Fatalf("sync: %d %s", code, b)
	}
	var acc struct {
		RunID string `json:"run_id"`
	}
	_ = json.Unmarshal(b, &acc)
	type runView struct {
		ID     string `json:"id"`
		State  string `json:"state"`
		Counts struct{ Created int64 }
	}
	poll := func(base string, until func(runView) bool) runView {
		deadline := time.Now().Add(2 * time.Minute)
		for {
			var r runView
			code, b := call(t, "GET", base+"/v1/tenants/acme/connections/dir/runs/"+acc.RunID, key, "", nil)
			_ = json.Unmarshal(b, &r)
			if code == 200 && until(r) {
				return r
			}
			if time.Now().After(deadline) {
				t.Fatalf("run never reached the wanted state: %d %s", code, b)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	mid := poll(s1.base, func(r runView) bool { return r.State == "running" && r.Counts.Created > 0 })
	s1.stop()
	if code := <-s1.done; code != 0 {
		t.Fatalf("first server exit %d", code)
	}
	s1.done <- 0 // for its cleanup

	s2 := startServe(t, "--data", data, "--allow-private")
	waitFor(t, s2.out, regexp.MustCompile(`(resuming 1 interrupted runs)`))
	done := poll(s2.base, func(r runView) bool { return r.State == "succeeded" || r.State == "failed" })
	if done.State != "succeeded" || done.ID != acc.RunID || done.Counts.Created != 5250 {
		t.Fatalf("resumed run = %+v (interrupted at %+v), want run %s succeeded with 5250 created", done, mid, acc.RunID)
	}
}

// With --kms awskms the tenants' data keys are wrapped by AWS KMS (a
// local KMS-compatible server here): the demo's connections store and
// open their secrets through it and sync.
func TestServeWithAWSKMS(t *testing.T) {
	lk := kmstest.StartLocalKMS(t)
	keyID := lk.CreateKey(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	wasm, manifest := directoryBuild(t)
	data := t.TempDir()
	s := startServe(t, "--data", data, "--demo", "--demo-module", wasm, "--demo-manifest", manifest,
		"--kms", "awskms", "--kms-key-id", keyID, "--kms-region", lk.Region, "--kms-endpoint", lk.Endpoint)
	waitFor(t, s.out, regexp.MustCompile(`(demo ready)`))
	if _, err := os.Stat(filepath.Join(data, "keys", "kms-local.key")); !os.IsNotExist(err) {
		t.Fatalf("a local KMS key file was created under --kms awskms: %v", err)
	}
	raw, _ := os.ReadFile(filepath.Join(data, "demo.json"))
	var demo demoFile
	if err := json.Unmarshal(raw, &demo); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		code, body := get(t, s.base+"/v1/tenants/globex/connections/directory/runs", demo.Tenants["globex"].Key)
		if code == 200 && strings.Contains(body, `"state":"succeeded"`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("globex's sync under awskms did not succeed: %d %s", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestServeRefusesUnknownKMS(t *testing.T) {
	code := Main(context.Background(), []string{"serve", "--data", t.TempDir(), "--kms", "vault"}, io.Discard, io.Discard)
	if code != 2 {
		t.Fatalf("--kms vault: exit %d, want 2", code)
	}
	code = Main(context.Background(), []string{"serve", "--data", t.TempDir(), "--kms", "awskms"}, io.Discard, io.Discard)
	if code != 2 {
		t.Fatalf("--kms awskms without a key: exit %d, want 2", code)
	}
}
