package webhooks_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/sluicehq/sluice/webhooks"
)

// BenchmarkAccept measures Service.Accept (verification, de-dup and the
// group-committed durable write) from parallel callers, without HTTP, and
// reports it against a bare Badger transaction per event measured in the
// same run: accept/badger is the figure to watch, not ns/op.
func BenchmarkAccept(b *testing.B) {
	r := newRig(b, rigOptions{cfg: webhooks.Config{Workers: -1, QueueSize: 1 << 20}})
	ep, err := r.svc.RotateEndpoint(b.Context(), r.tenant, "dir")
	must(b, err)
	key, _ := webhooks.ParseSecret(ep.Secret)
	body := userEvent("evt", "u1", "Ada Lovelace", "2025-01-02T10:00:00Z")
	var n atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("m%d", n.Add(1))
			now := time.Now()
			h := http.Header{}
			h.Set("webhook-id", id)
			h.Set("webhook-timestamp", fmt.Sprint(now.Unix()))
			h.Set("webhook-signature", webhooks.Sign([][]byte{key}, id, now, body))
			if _, err := r.svc.Accept(b.Context(), ep.Hook, h, body); err != nil {
				b.Error(err)
				return
			}
		}
	})
	acceptPerS := float64(b.N) / time.Since(start).Seconds()
	b.StopTimer()

	db, err := badger.Open(badger.DefaultOptions(filepath.Join(b.TempDir(), "raw")).WithLogger(nil))
	must(b, err)
	defer db.Close()
	var m atomic.Int64
	start = time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := fmt.Appendf(nil, "t/acme/wi/%d", m.Add(1))
			if err := db.Update(func(txn *badger.Txn) error { return txn.Set(k, body) }); err != nil {
				b.Error(err)
				return
			}
		}
	})
	rawPerS := float64(b.N) / time.Since(start).Seconds()
	b.ReportMetric(acceptPerS, "accepted/s")
	b.ReportMetric(acceptPerS/rawPerS, "accept/badger")
}
