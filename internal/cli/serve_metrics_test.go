package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
)

// The scrape of a server that ran a sync, a webhook, an action, a check
// and a failure passes `promtool check metrics`, carries the metrics the
// operations docs promise, and documents every sluice_* family it has in
// docs/metrics.md.
func TestServeMetricsPassPromtool(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the Wasm connector")
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not on PATH: `make tools` installs it (Debian package prometheus)")
	}
	module, manifest := directoryBuild(t)
	sb := sandbox.New(sandbox.Config{Users: 20})
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	data := t.TempDir()
	keyFile := filepath.Join(data, "admin.key")
	s := startServe(t, "--data", data, "--allow-private", "--admin-key-file", keyFile)
	key := adminKey(t, keyFile)
	upload(t, s.base, key, readBundle(t, module, manifest))
	conn := s.base + "/v1/tenants/acme/connections/dir"
	body, _ := json.Marshal(map[string]any{"id": "dir", "connector": "directory", "version": "1.0.0",
		"scopes": []string{"users:read", "groups:read", "users:write", "compliance:read"}, "config": map[string]string{"base_url": base},
		"credentials": map[string]string{"client_id": sandbox.DefaultClientID, "client_secret": sandbox.DefaultClientSecret}})
	if code, b := call(t, "POST", s.base+"/v1/tenants/acme/connections", key, "application/json", body); code != 201 {
		t.Fatalf("create connection: %d %s", code, b)
	}

	// A sync that succeeds, then one that fails (and dead-letters a page).
	if state := syncAndWait(t, conn, key); state != "succeeded" {
		t.Fatalf("first sync: %s", state)
	}
	if err := sb.SetFaults(sandbox.Faults{ErrorRate: 1, PathPrefix: "/api/v1/groups"}); err != nil {
		t.Fatal(err)
	}
	if state := syncAndWait(t, conn, key); state != "failed" {
		t.Fatalf("sync against a failing remote: %s", state)
	}
	if err := sb.SetFaults(sandbox.Faults{}); err != nil {
		t.Fatal(err)
	}

	// A webhook.
	code, b := call(t, "POST", conn+"/webhook", key, "", nil)
	var ep struct{ URL, Secret string }
	if code != 201 || json.Unmarshal(b, &ep) != nil {
		t.Fatalf("create webhook endpoint: %d %s", code, b)
	}
	if err := sb.Subscribe(ep.URL, ep.Secret, sandbox.Delivery{Sign: true}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sb.CreateUser(sandbox.NewUser{Email: "grace@example.com", Name: "Grace Hopper"}, ""); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sb.WaitDeliveries(ctx); err != nil {
		t.Fatal(err)
	}

	// An action and a verify check.
	act, _ := json.Marshal(map[string]any{"action": "create_user", "params": map[string]string{"email": "alan@example.com", "name": "Alan Turing"}})
	if code, b := call(t, "POST", conn+"/actions", key, "application/json", act); code != 201 && code != 202 {
		t.Fatalf("action: %d %s", code, b)
	}
	if code, b := call(t, "POST", conn+"/checks/mfa_enforced/run", key, "", nil); code >= 300 {
		t.Fatalf("check: %d %s", code, b)
	}

	scrape := waitForScrape(t, s.base, "sluice_webhooks_processed_total")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(scrape)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
	families := metricFamilies(scrape)
	for _, want := range []string{
		"sluice_runs_total", "sluice_run_errors_total", "sluice_records_total", "sluice_ingest_lag_seconds",
		"sluice_remote_request_duration_seconds", "sluice_rate_limit_hits_total", "sluice_wasm_call_duration_seconds",
		"sluice_wasm_acquire_seconds", "sluice_wasm_pool_idle_instances", "sluice_dlq_depth", "sluice_dlq_dead_letters_total",
		"sluice_webhook_queue_depth", "sluice_webhooks_accepted_total", "sluice_action_runs_total", "sluice_checks_total",
		"sluice_tenant_usage_total", "sluice_http_requests_total", "sluice_scheduler_queue_depth",
	} {
		if !slices.Contains(families, want) {
			t.Errorf("the scrape has no %s", want)
		}
	}
	doc, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if strings.HasPrefix(f, "sluice_") && !bytes.Contains(doc, []byte("`"+f+"`")) {
			t.Errorf("docs/metrics.md does not document %s", f)
		}
	}
}

// syncAndWait starts a sync and returns the run's final state.
func syncAndWait(t *testing.T, conn, key string) string {
	t.Helper()
	code, b := call(t, "POST", conn+"/sync", key, "", nil)
	var started struct {
		RunID string `json:"run_id"`
	}
	if code != 202 || json.Unmarshal(b, &started) != nil || started.RunID == "" {
		t.Fatalf("sync: %d %s", code, b)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		code, b := call(t, "GET", conn+"/runs/"+started.RunID, key, "", nil)
		var run struct{ State string }
		if code == 200 && json.Unmarshal(b, &run) == nil && run.State != "running" && run.State != "queued" {
			return run.State
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s never finished: %d %s", started.RunID, code, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitForScrape scrapes /metrics until it has family (work finishing in
// the background), then returns the scrape.
func waitForScrape(t *testing.T, base, family string) []byte {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		code, b := call(t, "GET", base+"/metrics", "", "", nil)
		if code == 200 && slices.Contains(metricFamilies(b), family) {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s in the scrape: %d", family, code)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var typeLine = regexp.MustCompile(`^# TYPE (\S+) `)

func metricFamilies(scrape []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(scrape))
	for sc.Scan() {
		if m := typeLine.FindStringSubmatch(sc.Text()); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}
