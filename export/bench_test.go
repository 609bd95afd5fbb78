package export_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice/export"
	"github.com/sluicehq/sluice/policy"
)

// BenchmarkExportPolicyRules measures what deciding redaction by the
// tenant's CEL policy costs a bundle: an auditor bundle of 1,000 stored
// users (four fields each, three of a PII class) on a real Badger store,
// built with DefaultRules (the baseline: no evaluation, nothing recorded)
// and with PolicyRules, alternating so machine load hits both alike.
// policy/default is the figure to compare; ms/bundle move with the machine.
func BenchmarkExportPolicyRules(b *testing.B) {
	const objects = 1000
	ctx := context.Background()
	pols := policy.New(policy.Config{})
	w := seedMany(b, objects-len(seededUsers), pols)
	xs := [2]*export.Exporter{ // default, policy
		newExporter(b, w.db, export.DefaultRules{}),
		newExporter(b, w.db, export.PolicyRules{Store: w.db, Policies: pols}),
	}
	scope := export.Scope{Tenant: "acme", From: t0.Add(-time.Hour), To: t0.Add(time.Hour), Role: export.RoleAuditor}
	build := func(x *export.Exporter) time.Duration {
		began := time.Now()
		bundle, err := x.Export(ctx, scope)
		took := time.Since(began)
		if err != nil {
			b.Fatal(err)
		}
		if len(bundle.Objects) != objects {
			b.Fatalf("bundle holds %d objects, want %d", len(bundle.Objects), objects)
		}
		return took
	}
	// One untimed bundle each first (the CEL program compiles, Badger's
	// caches fill): `make bench` often runs a single iteration.
	build(xs[0])
	build(xs[1])
	var elapsed [2]time.Duration
	n := 0
	for b.Loop() {
		// Neither mode always runs first, on a warmer (or more loaded) machine.
		for _, i := range [2][2]int{{0, 1}, {1, 0}}[n%2] {
			elapsed[i] += build(xs[i])
		}
		n++
	}
	perBundle := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(n) }
	b.ReportMetric(perBundle(elapsed[0]), "ms/bundle-default")
	b.ReportMetric(perBundle(elapsed[1]), "ms/bundle-policy")
	b.ReportMetric(elapsed[1].Seconds()/elapsed[0].Seconds(), "policy/default")
}
