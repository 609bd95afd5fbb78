package telemetry_test

import (
	"testing"

	"github.com/sluicehq/sluice/internal/telemetry"
)

// FuzzParseTraceID: an X-Correlation-Id from anyone is accepted as a
// trace id only in the canonical form, which then round-trips exactly.
func FuzzParseTraceID(f *testing.F) {
	for _, s := range []string{"0af7651916cd43dd8448eb211c80319c", "00000000000000000000000000000000", "0AF7651916CD43DD8448EB211C80319C", "req-42", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tid, ok := telemetry.ParseTraceID(s)
		if ok && (tid.String() != s || !tid.IsValid()) {
			t.Fatalf("accepted %q as %s", s, tid)
		}
		if !ok && tid.IsValid() {
			t.Fatalf("refused %q but returned %s", s, tid)
		}
	})
}
