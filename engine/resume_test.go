package engine_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

func TestMain(m *testing.M) {
	if os.Getenv("SLUICE_CHILD_SYNC") == "1" {
		if err := childSync(); err != nil {
			fmt.Fprintln(os.Stderr, "child sync:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childSync is a whole sync process: the parent kills it mid-run.
func childSync() error {
	ctx := context.Background()
	data := os.Getenv("SLUICE_DATA")
	db, err := store.Open(store.Options{Dir: filepath.Join(data, "store"), SyncWrites: true})
	if err != nil {
		return err
	}
	defer db.Close()
	key, err := receipt.LoadOrCreateKey(filepath.Join(data, "key.pem"), rand.Reader)
	if err != nil {
		return err
	}
	eng, err := engine.New(engine.Config{Store: db, Signer: receipt.NewSigner(key), AllowPrivateNetworks: true,
		CacheDir: os.Getenv("SLUICE_CACHE")})
	if err != nil {
		return err
	}
	defer eng.Close(ctx)
	wasm, err := os.ReadFile(os.Getenv("SLUICE_MODULE"))
	if err != nil {
		return err
	}
	mb, err := os.ReadFile(os.Getenv("SLUICE_MANIFEST"))
	if err != nil {
		return err
	}
	m, err := manifest.Parse(mb)
	if err != nil {
		return err
	}
	mod, err := eng.Load(ctx, wasm, m)
	if err != nil {
		return err
	}
	t, err := db.Tenant("acme")
	if err != nil {
		return err
	}
	cfg := protocol.Config{"base_url": os.Getenv("SLUICE_BASE")}
	creds, scrub, err := eng.Credentials(m, cfg, map[string]string{"client_id": clientID, "client_secret": clientSecret})
	if err != nil {
		return err
	}
	conn := engine.Connection{Tenant: t, ID: "dir", Module: mod, Config: cfg,
		Scopes: []string{"users:read", "groups:read"}, Credentials: creds, Scrub: scrub, Secrets: []string{clientSecret}}
	_, err = eng.Sync(ctx, conn, engine.RunOptions{Full: true, PageSize: 100})
	return err
}

func TestKilledSyncResumesToTheSameObjectSet(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess test")
	}
	wasmPath, manifestPath := builtPaths4(t)
	sb, _ := startSandbox(t, sandboxConfig(2000))

	var usersPages atomic.Int64
	var killMu sync.Mutex
	var victim *exec.Cmd
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/api/v1/users" && usersPages.Add(1) == 6 {
			killMu.Lock()
			if victim != nil {
				_ = victim.Process.Kill()
			}
			killMu.Unlock()
		}
		sb.Handler().ServeHTTP(w, req)
	}))
	defer srv.Close()

	run := func(data string, kill bool) error {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "SLUICE_CHILD_SYNC=1", "SLUICE_DATA="+data, "SLUICE_BASE="+srv.URL,
			"SLUICE_MODULE="+wasmPath, "SLUICE_MANIFEST="+manifestPath, "SLUICE_CACHE="+filepath.Join(wasmCacheRoot(t), "wazero"))
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			return err
		}
		killMu.Lock()
		if kill {
			victim = cmd
		} else {
			victim = nil
		}
		killMu.Unlock()
		err := cmd.Wait()
		if err != nil && !kill {
			t.Logf("child output:\n%s", out.String())
		}
		return err
	}

	interrupted := t.TempDir()
	if err := run(interrupted, true); err == nil {
		t.Fatal("the first child was meant to be killed mid-run but finished")
	}
	if err := run(interrupted, false); err != nil {
		t.Fatalf("restarted child: %v", err)
	}
	reference := t.TempDir()
	if err := run(reference, false); err != nil {
		t.Fatalf("reference child: %v", err)
	}

	got, runsGot := objectSet(t, interrupted)
	want, _ := objectSet(t, reference)
	if len(got) != len(want) || len(want) != 2000+100 {
		t.Fatalf("objects: resumed %d, reference %d, want %d", len(got), len(want), 2100)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("object %d differs:\n resumed   %s\n reference %s", i, got[i], want[i])
		}
	}
	if len(runsGot) != 1 || runsGot[0].State != engine.StateSucceeded || runsGot[0].Counts.Created != 2100 {
		t.Fatalf("resumed runs = %+v, want one succeeded run that created 2100 (no duplicates)", runsGot)
	}
}

// objectSet lists every object as "entity|type|data", sorted, and the runs.
func objectSet(t *testing.T, data string) ([]string, []store.Run) {
	t.Helper()
	db, err := store.Open(store.Options{Dir: filepath.Join(data, "store")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tn, _ := db.Tenant("acme")
	var out []string
	after := ""
	for {
		objs, next, err := tn.Objects(context.Background(), store.ListOptions{Connection: "dir", After: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			out = append(out, o.EntityID+"|"+o.Type+"|"+string(o.Data))
		}
		if next == "" {
			break
		}
		after = next
	}
	sort.Strings(out)
	runs, err := tn.Runs(context.Background(), "dir", 10)
	if err != nil {
		t.Fatal(err)
	}
	return out, runs
}

func builtPaths4(t *testing.T) (string, string) {
	t.Helper()
	buildConnector(t, "directory")
	buildMu.Lock()
	defer buildMu.Unlock()
	root := filepath.Dir(filepath.Dir(wasmCacheRoot(t)))
	return builtPaths["directory"], filepath.Join(root, "connectors-wasm", "directory", "connector.json")
}
