package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/connectors-wasm/directory/connector"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

// IngestConfig configures the ingest benchmark. Zero values take the
// defaults in the comments.
type IngestConfig struct {
	Users        int    // sandbox users to sync (default 100,000)
	ModulePath   string // directory connector .wasm (required)
	ManifestPath string // its connector.json (required)
	PageSize     int    // default 1000
	ColdStarts   int    // samples of new instance + first call (default 50)
	Calls        int    // pooled empty-ish calls for call overhead (default 2000)
	WorkDir      string // scratch folder (default a temp dir, removed after)
}

// IngestReport is what `sluice bench ingest --json` prints.
type IngestReport struct {
	Users             int     `json:"users"`
	E2ERecordsPerS    float64 `json:"e2e_records_per_s"`
	NativeRecordsPerS float64 `json:"native_records_per_s"`
	BadgerRecordsPerS float64 `json:"badger_records_per_s"`
	WasmNativeRatio   float64 `json:"wasm_native_ratio"`
	E2EBadgerRatio    float64 `json:"e2e_badger_ratio"`
	ColdStartP50Ms    float64 `json:"cold_start_p50_ms"`
	ColdStartP99Ms    float64 `json:"cold_start_p99_ms"`
	CallOverheadUs    float64 `json:"call_overhead_us"`
	// NoInterrupts* measure the same Wasm pipeline compiled without the
	// deadline checks (engine.Config.UnsafeNoInterrupts): what the
	// ability to stop an endless loop costs.
	NoInterruptsRecordsPerS float64 `json:"no_interrupts_records_per_s"`
	InterruptCostRatio      float64 `json:"interrupt_cost_ratio"`
	E2ESeconds              float64 `json:"e2e_seconds"`
	NativeSeconds           float64 `json:"native_seconds"`
	BadgerSeconds           float64 `json:"badger_seconds"`
	Machine                 Machine `json:"machine"`
}

// Machine describes where a benchmark ran.
type Machine struct {
	GOOS   string `json:"goos"`
	GOARCH string `json:"goarch"`
	CPUs   int    `json:"cpus"`
	Go     string `json:"go"`
}

func (c IngestConfig) withDefaults() IngestConfig {
	if c.Users == 0 {
		c.Users = 100_000
	}
	if c.PageSize == 0 {
		c.PageSize = 1000
	}
	if c.ColdStarts == 0 {
		c.ColdStarts = 50
	}
	if c.Calls == 0 {
		c.Calls = 2000
	}
	return c
}

// Ingest measures the ingest pipeline three ways over the same data.
func Ingest(ctx context.Context, cfg IngestConfig) (IngestReport, error) {
	cfg = cfg.withDefaults()
	rep := IngestReport{Users: cfg.Users, Machine: Machine{runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version()}}
	work := cfg.WorkDir
	if work == "" {
		dir, err := os.MkdirTemp("", "sluice-bench-")
		if err != nil {
			return rep, err
		}
		defer os.RemoveAll(dir)
		work = dir
	}
	mb, err := os.ReadFile(cfg.ManifestPath)
	if err != nil {
		return rep, err
	}
	m, err := manifest.Parse(mb)
	if err != nil {
		return rep, err
	}
	wasm, err := os.ReadFile(cfg.ModulePath)
	if err != nil {
		return rep, err
	}
	sb := sandbox.New(sandbox.Config{Users: cfg.Users})
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		return rep, err
	}
	defer sb.Close()
	key, err := receipt.GenerateKey(rand.Reader)
	if err != nil {
		return rep, err
	}

	wasmRig, err := newRig(ctx, filepath.Join(work, "wasm"), key, base, false)
	if err != nil {
		return rep, err
	}
	defer wasmRig.close(ctx)
	wmod, err := wasmRig.eng.Load(ctx, wasm, m)
	if err != nil {
		return rep, err
	}
	// Latencies first, on a small heap: after 100k objects the host's GC
	// dominates instantiation and would measure the benchmark, not Sluice.
	cold, err := coldStarts(ctx, wasmRig.eng, wmod, cfg.ColdStarts)
	if err != nil {
		return rep, fmt.Errorf("cold start: %w", err)
	}
	rep.ColdStartP50Ms = ms(percentile(cold, 0.50))
	rep.ColdStartP99Ms = ms(percentile(cold, 0.99))
	if rep.CallOverheadUs, err = callOverhead(ctx, wasmRig.eng, wmod, cfg.Calls); err != nil {
		return rep, fmt.Errorf("call overhead: %w", err)
	}
	if rep.E2ESeconds, err = wasmRig.syncUsers(ctx, wmod, cfg.PageSize); err != nil {
		return rep, fmt.Errorf("wasm sync: %w", err)
	}

	nativeRig, err := newRig(ctx, filepath.Join(work, "native"), key, base, false)
	if err != nil {
		return rep, err
	}
	defer nativeRig.close(ctx)
	conn := connector.New()
	nmod, err := nativeRig.eng.LoadNative(m, func(ctx context.Context, t engine.Transport, export string, input []byte) ([]byte, error) {
		return sdk.Invoke(ctx, conn, t, export, input)
	})
	if err != nil {
		return rep, err
	}
	if rep.NativeSeconds, err = nativeRig.syncUsers(ctx, nmod, cfg.PageSize); err != nil {
		return rep, fmt.Errorf("native sync: %w", err)
	}

	fastRig, err := newRig(ctx, filepath.Join(work, "nointerrupts"), key, base, true)
	if err != nil {
		return rep, err
	}
	defer fastRig.close(ctx)
	fmod, err := fastRig.eng.Load(ctx, wasm, m)
	if err != nil {
		return rep, err
	}
	fastSeconds, err := fastRig.syncUsers(ctx, fmod, cfg.PageSize)
	if err != nil {
		return rep, fmt.Errorf("no-interrupts sync: %w", err)
	}

	if rep.BadgerSeconds, err = rawBadger(ctx, wasmRig, filepath.Join(work, "raw")); err != nil {
		return rep, fmt.Errorf("raw badger: %w", err)
	}
	n := float64(cfg.Users)
	rep.E2ERecordsPerS = n / rep.E2ESeconds
	rep.NativeRecordsPerS = n / rep.NativeSeconds
	rep.BadgerRecordsPerS = n / rep.BadgerSeconds
	rep.WasmNativeRatio = rep.E2ERecordsPerS / rep.NativeRecordsPerS
	rep.E2EBadgerRatio = rep.E2ERecordsPerS / rep.BadgerRecordsPerS
	rep.NoInterruptsRecordsPerS = n / fastSeconds
	rep.InterruptCostRatio = rep.NoInterruptsRecordsPerS / rep.E2ERecordsPerS

	return rep, nil
}

// rig is one engine over its own store, pointed at the sandbox.
type rig struct {
	db     *store.DB
	eng    *engine.Engine
	tenant *store.Tenant
	base   string
}

func newRig(ctx context.Context, dir string, key receipt.Key, base string, noInterrupts bool) (*rig, error) {
	db, err := store.Open(store.Options{Dir: filepath.Join(dir, "store")})
	if err != nil {
		return nil, err
	}
	eng, err := engine.New(engine.Config{Store: db, Signer: receipt.NewSigner(key),
		CacheDir: filepath.Join(dir, "cache"), AllowPrivateNetworks: true, UnsafeNoInterrupts: noInterrupts})
	if err != nil {
		db.Close()
		return nil, err
	}
	t, err := db.Tenant("bench")
	if err != nil {
		return nil, err
	}
	return &rig{db: db, eng: eng, tenant: t, base: base}, nil
}

func (r *rig) close(ctx context.Context) {
	_ = r.eng.Close(ctx)
	_ = r.db.Close()
}

func (r *rig) connection(ctx context.Context, mod *engine.Module) (engine.Connection, error) {
	cfg := protocol.Config{"base_url": r.base}
	secrets := map[string]string{"client_id": "sandbox-client", "client_secret": "sandbox-secret"}
	creds, scrub, err := r.eng.Credentials(mod.Manifest, cfg, secrets)
	if err != nil {
		return engine.Connection{}, err
	}
	var scopes []string
	for _, s := range mod.Manifest.Scopes {
		scopes = append(scopes, s.Name)
	}
	return engine.Connection{Tenant: r.tenant, ID: "directory", Module: mod, Config: cfg, Scopes: scopes,
		Credentials: creds, Scrub: scrub, Secrets: []string{"sandbox-secret"}}, nil
}

// syncUsers runs a full sync of the users stream and returns its seconds.
func (r *rig) syncUsers(ctx context.Context, mod *engine.Module, pageSize int) (float64, error) {
	conn, err := r.connection(ctx, mod)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	res, err := r.eng.Sync(ctx, conn, engine.RunOptions{Full: true, Streams: []string{"users"}, PageSize: pageSize})
	if err != nil {
		return 0, err
	}
	if res.Run.Counts.Created == 0 {
		return 0, fmt.Errorf("sync created nothing")
	}
	return time.Since(start).Seconds(), nil
}

// rawBadger writes the objects the Wasm run stored, as they are stored,
// into a fresh Badger with a WriteBatch: the floor of storage cost.
func rawBadger(ctx context.Context, src *rig, dir string) (float64, error) {
	type kv struct{ k, v []byte }
	var rows []kv
	after := ""
	for {
		objs, next, err := src.tenant.Objects(ctx, store.ListOptions{Connection: "directory", Type: "user", After: after, Limit: 1000})
		if err != nil {
			return 0, err
		}
		for _, o := range objs {
			rows = append(rows, kv{[]byte("t/bench/o/" + o.EntityID), o.Data})
		}
		if next == "" {
			break
		}
		after = next
	}
	opts := badger.DefaultOptions(dir).WithLogger(nil)
	db, err := badger.Open(opts)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	start := time.Now()
	wb := db.NewWriteBatch()
	for _, r := range rows {
		if err := wb.Set(r.k, r.v); err != nil {
			return 0, err
		}
	}
	if err := wb.Flush(); err != nil {
		return 0, err
	}
	return time.Since(start).Seconds(), nil
}

func coldStarts(ctx context.Context, eng *engine.Engine, mod *engine.Module, n int) ([]time.Duration, error) {
	out := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		start := time.Now()
		if _, err := eng.Invoke(ctx, "bench", mod, nil, protocol.ExportDiscover, []byte("{}"), true); err != nil {
			return nil, err
		}
		out = append(out, time.Since(start))
	}
	return out, nil
}

func callOverhead(ctx context.Context, eng *engine.Engine, mod *engine.Module, n int) (float64, error) {
	// Warm the pool, then time n calls on pooled instances.
	if _, err := eng.Invoke(ctx, "bench", mod, nil, protocol.ExportDiscover, []byte("{}"), false); err != nil {
		return 0, err
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		if _, err := eng.Invoke(ctx, "bench", mod, nil, protocol.ExportDiscover, []byte("{}"), false); err != nil {
			return 0, err
		}
	}
	return float64(time.Since(start).Microseconds()) / float64(n), nil
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	idx := int(float64(len(s)-1) * p)
	return s[idx]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
