package cli_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/internal/wasmbuild"
)

// The ingest-only tickets example certifies at Bronze and not at Silver:
// exit 0 asked for bronze (its claim), exit 1 asked for silver, naming
// the check that keeps it there (it has no actions) and no other.
func TestCertifyTicketsBronzeNotSilver(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole suite twice")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	module, err := wasmbuild.Build(ctx, "connectors-wasm", "./tickets")
	if err != nil {
		t.Fatal(err)
	}
	root, err := wasmbuild.Root()
	if err != nil {
		t.Fatal(err)
	}
	sb := sandbox.New(sandbox.Config{Users: 100})
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	manifest := filepath.Join(root, "connectors-wasm", "tickets", "connector.json")
	args := func(level string) []string {
		return []string{"certify", "--module", module, "--manifest", manifest, "--sandbox-url", base, "--level", level, "--call-timeout", "60s"}
	}

	code, stdout, stderr := run(t, args("bronze")...)
	if code != 0 || !strings.Contains(stdout, "tickets 1.0.0: reached bronze (asked bronze)") {
		t.Fatalf("bronze: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = run(t, args("silver")...)
	if code != 1 || !strings.Contains(stdout, "reached bronze (asked silver)") {
		t.Fatalf("silver: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "1 required checks did not pass") || !strings.Contains(stderr, "security.action-approval (fail: the connector declares no actions") {
		t.Fatalf("silver failure does not name exactly the action check:\n%s", stderr)
	}
}
