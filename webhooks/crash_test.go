package webhooks_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/webhooks"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv("SLUICE_WEBHOOK_CHILD"); dir != "" {
		if err := child(dir); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childInfo is what the child process prints once it serves.
type childInfo struct {
	URL    string `json:"url"`
	Secret string `json:"secret"`
}

// child is a whole intake process whose connector never returns: every
// delivery is accepted and none is processed. The parent kills it.
func child(dir string) error {
	r, err := build(rigOptions{dir: dir, block: true, cfg: webhooks.Config{Workers: 2}})
	if err != nil {
		return err
	}
	srv, err := api.New(api.Config{Store: r.db, Webhooks: r.svc, Registerer: prometheus.NewRegistry()})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = http.Serve(ln, srv.Handler()) }()
	ep, err := r.svc.RotateEndpoint(context.Background(), r.tenant, "dir")
	if err != nil {
		return err
	}
	b, _ := json.Marshal(childInfo{URL: "http://" + ln.Addr().String() + "/v1/hooks/" + ep.Hook, Secret: ep.Secret})
	fmt.Println(string(b))
	select {} // until killed
}

func TestKilledAfterAcceptIsProcessedOnceAfterRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess test")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SLUICE_WEBHOOK_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	must(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("child did not start: %v\n%s", err, stderr.String())
	}
	var info childInfo
	must(t, json.Unmarshal([]byte(line), &info))

	const n = 20
	for i := range n {
		b := userEvent(fmt.Sprintf("evt_%d", i), fmt.Sprintf("u%d", i), "Ada", "2025-01-02T10:00:00Z")
		if a := deliver(t, info.URL, signed(t, info.Secret, fmt.Sprintf("msg_%d", i), time.Now(), b), b); a.status != http.StatusAccepted {
			t.Fatalf("delivery %d: %d %s", i, a.status, a.body)
		}
	}
	// Every delivery was answered 202, so it is stored; the connector of
	// the child never returned, so none was processed. Kill -9.
	must(t, cmd.Process.Kill())
	_ = cmd.Wait()

	r := newRig(t, rigOptions{dir: dir})
	r.waitIdle()
	if got := r.hd.calls.Load(); got != n {
		t.Fatalf("processed %d times after restart, want %d (once each)", got, n)
	}
	if got := len(r.users()); got != n {
		t.Fatalf("users = %d, want %d", got, n)
	}
	if got := len(r.inbox()); got != 0 {
		t.Fatalf("inbox holds %d after processing", got)
	}
	runs, err := r.tenant.Runs(context.Background(), "dir", 100)
	must(t, err)
	if len(runs) != n {
		t.Fatalf("runs = %d, want %d", len(runs), n)
	}
	// The webhook-ids survived the crash: a redelivery is a duplicate.
	ep, err := r.svc.Endpoint(context.Background(), r.tenant, "dir")
	must(t, err)
	b := userEvent("evt_0", "u0", "Ada", "2025-01-02T10:00:00Z")
	if a := deliver(t, r.srv.URL+"/v1/hooks/"+ep.Hook, signed(t, info.Secret, "msg_0", time.Now(), b), b); a.status != http.StatusOK {
		t.Fatalf("redelivery after restart: %d %s", a.status, a.body)
	}
	// A second restart finds nothing to do.
	r.close()
	r2 := newRig(t, rigOptions{dir: dir})
	r2.waitIdle()
	if got := r2.hd.calls.Load(); got != 0 {
		t.Fatalf("second restart processed %d events again", got)
	}
}
