package conformance_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/wasmbuild"
)

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// target builds (once per test binary, cached on disk by source hash) a
// connector: "directory" or "tickets" from connectors-wasm, or a defect from
// conformance/testdata/defects.
func target(t testing.TB, name string) conformance.Target {
	t.Helper()
	root, err := wasmbuild.Root()
	if err != nil {
		t.Fatal(err)
	}
	moduleDir, pkg := filepath.Join(root, "connectors-wasm"), "./"+name
	if name != "directory" && name != "tickets" {
		moduleDir, pkg = filepath.Join(root, "conformance", "testdata"), "./defects/"+name
	}
	buildMu.Lock()
	path, ok := built[name]
	if !ok {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		path, err = wasmbuild.Build(ctx, moduleDir, pkg)
		cancel()
		if err != nil {
			buildMu.Unlock()
			t.Fatalf("build %s: %v", name, err)
		}
		built[name] = path
	}
	buildMu.Unlock()
	wasm, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mf, err := os.ReadFile(filepath.Join(moduleDir, pkg, "connector.json"))
	if err != nil {
		t.Fatal(err)
	}
	return conformance.Target{Module: wasm, Manifest: mf}
}

// runaway are the defects only a deadline or a memory cap stops.
var runaway = map[string]bool{"endless-loop": true, "memory-bomb": true, "stack-bomb": true, "huge-output": true}

// testOptions keep the suite quick and steady in tests: a shared compile
// cache, a short deadline for the runaway defects (nothing else could
// stop them sooner) and a generous one for every other module, so a
// loaded machine never turns a slow page into a limit failure.
func testOptions(t testing.TB, name string, extra ...conformance.Option) []conformance.Option {
	t.Helper()
	root, err := wasmbuild.Root()
	if err != nil {
		t.Fatal(err)
	}
	timeout := 60 * time.Second
	if runaway[name] {
		timeout = 5 * time.Second
	}
	return append([]conformance.Option{
		conformance.WithCacheDir(filepath.Join(root, "build", "test-cache", "wazero")),
		conformance.WithLimits(engine.Limits{CallTimeout: timeout, MemoryPages: 1024}),
	}, extra...)
}
