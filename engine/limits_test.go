package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/receipt"
)

func TestForbiddenImportRefusedAtLoad(t *testing.T) {
	r := newRig(t, rigOptions{})
	wasm, _ := buildConnector(t, "forbidden-import")
	_, err := engine.CheckImports(context.Background(), wasm)
	var ie *engine.ImportError
	if !errors.As(err, &ie) || !errors.Is(err, engine.ErrForbiddenImport) {
		t.Fatalf("CheckImports = %v, want an ImportError", err)
	}
	if ie.Module != "extism:host/env" || ie.Name != "http_request" {
		t.Fatalf("ImportError names %s.%s, want extism:host/env.http_request", ie.Module, ie.Name)
	}
	m := r.module("directory", nil).Manifest
	if _, err := r.eng.Load(context.Background(), wasm, m); !errors.Is(err, engine.ErrForbiddenImport) {
		t.Fatalf("Load = %v, want ErrForbiddenImport", err)
	}
	if _, err := r.eng.Load(context.Background(), []byte("not wasm"), m); !errors.Is(err, engine.ErrInvalidModule) {
		t.Fatalf("Load(garbage) = %v, want ErrInvalidModule", err)
	}
}

// Each misbehaving module is stopped and reported, and a concurrent sync
// of another tenant completes untouched.
func TestMisbehavingModulesAreStoppedWithoutDisturbingOthers(t *testing.T) {
	// A short deadline for the loops; a long one where the cap, not the
	// clock, must stop the module (a loaded CI machine is slow to fill
	// 64 MiB).
	short := newRig(t, rigOptions{limits: engine.Limits{CallTimeout: 3 * time.Second, MemoryPages: 1024, MaxOutputBytes: 1 << 20}})
	long := newRig(t, rigOptions{limits: engine.Limits{CallTimeout: 60 * time.Second, MemoryPages: 1024, MaxOutputBytes: 1 << 20}})
	_, base := startSandbox(t, sandboxConfig(2000))
	cases := []struct {
		defect string
		rig    *rig
		want   error
		detail string
	}{
		{"endless-loop", short, engine.ErrDeadline, ""},
		{"memory-bomb", long, engine.ErrTrap, "memory"},
		{"stack-bomb", short, nil, ""}, // a trap or the deadline, whichever comes first
		{"huge-output", long, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.defect, func(t *testing.T) {
			r := tc.rig
			good := r.module("directory", nil)
			bad := r.module(tc.defect, nil)
			ctx := context.Background()
			var wg sync.WaitGroup
			var goodErr error
			var goodCreated int64
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := r.eng.Sync(ctx, r.conn("good-"+tc.defect, good, base), engine.RunOptions{Full: true, Streams: []string{"users"}})
				goodErr = err
				if res != nil {
					goodCreated = res.Run.Counts.Created
				}
			}()
			began := time.Now()
			res, err := r.eng.Sync(ctx, r.conn("evil-"+tc.defect, bad, base), engine.RunOptions{Full: true, Streams: []string{"users"}})
			elapsed := time.Since(began)
			wg.Wait()
			if !errors.Is(err, engine.ErrRunFailed) {
				t.Fatalf("misbehaving sync err = %v, want ErrRunFailed", err)
			}
			switch {
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("err = %v, want %v", err, tc.want)
			case tc.defect == "stack-bomb" && !errors.Is(err, engine.ErrTrap) && !errors.Is(err, engine.ErrDeadline):
				t.Fatalf("stack bomb err = %v, want a trap or the deadline", err)
			case tc.defect == "huge-output" && !errors.Is(err, engine.ErrOutputTooLarge) && !errors.Is(err, engine.ErrTrap):
				t.Fatalf("huge output err = %v, want ErrOutputTooLarge (or a trap at the memory cap)", err)
			}
			if tc.detail != "" && !strings.Contains(strings.ToLower(err.Error()), tc.detail) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.detail)
			}
			if elapsed > 65*time.Second {
				t.Fatalf("stopping took %s", elapsed)
			}
			if res == nil || res.Run.State != engine.StateFailed || len(res.Envelope) == 0 {
				t.Fatalf("a failed run still needs a receipt with state failed: %+v", res)
			}
			if goodErr != nil || goodCreated != 2000 {
				t.Fatalf("concurrent tenant: err=%v created=%d, want 2000", goodErr, goodCreated)
			}
		})
	}
}

// The compilation cache holds unsigned machine code: owner-only.
func TestCompilationCacheIsOwnerOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	db := newRig(t, rigOptions{}).db
	key, _ := receipt.GenerateKey(nil)
	eng, err := engine.New(engine.Config{Store: db, Signer: receipt.NewSigner(key), CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(context.Background())
	wasm, mf := buildConnector(t, "directory")
	m, err := manifest.Parse(mf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Load(context.Background(), wasm, m); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Fatalf("cache dir mode = %o, want 700", perm)
	}
}

func TestReleaseDropsCompiledCodeWhenUnused(t *testing.T) {
	r := newRig(t, rigOptions{})
	ctx := context.Background()
	a := r.module("directory", nil)
	b := r.module("directory", nil) // same digest, shared compiled code
	if err := r.eng.Release(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := r.eng.Release(ctx, a); err != nil { // twice is harmless
		t.Fatal(err)
	}
	if _, err := r.eng.Discover(ctx, b); err != nil {
		t.Fatalf("b must survive the release of a: %v", err)
	}
	if err := r.eng.Release(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, err := r.eng.Discover(ctx, b); err == nil {
		t.Fatal("a released module must not run")
	}
	if _, err := r.eng.Discover(ctx, r.module("directory", nil)); err != nil {
		t.Fatalf("a fresh Load after release: %v", err)
	}
}
