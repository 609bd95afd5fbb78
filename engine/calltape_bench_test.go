package engine

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/connectors-wasm/directory/connector"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

// BenchmarkCallTapes measures what recording every page call's tape
// (exchanges, emit and log digests, output digest) costs a sync: the
// directory connector linked natively (so the host pipeline, not Wasm,
// is what is timed) syncs the sandbox's users into Badger, with tapes on
// and off, alternating so machine load hits both alike. Compare the two
// records/s figures (their ratio is the cost), or, on a loaded machine,
// the CPU time of each mode in a profile (see the pprof labels below).
func BenchmarkCallTapes(b *testing.B) {
	const users = 5000
	ctx := context.Background()
	db, err := store.Open(store.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	key, err := receipt.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(Config{Store: db, Signer: receipt.NewSigner(key), AllowPrivateNetworks: true})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close(ctx)
	mb, err := os.ReadFile(filepath.Join("..", "connectors-wasm", "directory", "connector.json"))
	if err != nil {
		b.Fatal(err)
	}
	m, err := manifest.Parse(mb)
	if err != nil {
		b.Fatal(err)
	}
	impl := connector.New()
	mod, err := e.LoadNative(m, func(ctx context.Context, t Transport, export string, input []byte) ([]byte, error) {
		return sdk.Invoke(ctx, impl, t, export, input)
	})
	if err != nil {
		b.Fatal(err)
	}
	sb := sandbox.New(sandbox.Config{Users: users, ClientID: "c", ClientSecret: "bench-secret-1"})
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Close()
	cfg := protocol.Config{"base_url": base}
	creds, scrub, err := e.Credentials(m, cfg, map[string]string{"client_id": "c", "client_secret": "bench-secret-1"})
	if err != nil {
		b.Fatal(err)
	}
	tn, _ := db.Tenant("acme")
	var elapsed [2]time.Duration
	var records [2]int64
	n := 0
	for b.Loop() {
		for _, on := range order(n) {
			i := 1
			if on {
				i = 0
			}
			recordCalls = on
			n++
			conn := Connection{Tenant: tn, ID: fmt.Sprintf("c%d", n), Module: mod, Config: cfg, Scopes: []string{"users:read"},
				Credentials: creds, Scrub: scrub, Secrets: []string{"bench-secret-1"}}
			began := time.Now()
			var res *Result
			// Labelled, so a CPU profile (-cpuprofile) splits the modes:
			// go tool pprof -tagfocus tapes=on|off.
			pprof.Do(ctx, pprof.Labels("tapes", fmt.Sprint(on)), func(ctx context.Context) {
				res, err = e.Sync(ctx, conn, RunOptions{Full: true, PageSize: 1000})
			})
			elapsed[i] += time.Since(began)
			if err != nil {
				b.Fatal(err)
			}
			records[i] += res.Run.Counts.Created
		}
	}
	recordCalls = true
	on := float64(records[0]) / elapsed[0].Seconds()
	off := float64(records[1]) / elapsed[1].Seconds()
	b.ReportMetric(on, "records/s-tapes-on")
	b.ReportMetric(off, "records/s-tapes-off")
	b.ReportMetric(on/off, "on/off")
}

// order alternates which mode goes first, so neither always runs on a
// warmer (or more loaded) machine.
func order(n int) []bool {
	if n%4 == 0 {
		return []bool{true, false}
	}
	return []bool{false, true}
}
