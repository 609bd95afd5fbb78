package cli_test

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/internal/bench"
	"github.com/sluicehq/sluice/internal/wasmbuild"
)

// `sluice bench webhooks` drives the intake from a second process (this
// test binary re-executed as the CLI) and reports every figure.
func TestBenchWebhooksFromAChildProcess(t *testing.T) {
	root, err := wasmbuild.Root()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLUICE_AS_CLI", "1") // the re-executed load generator runs cli.Main
	code, out, errs := run(t, "bench", "webhooks", "--events", "200", "--concurrency", "4", "--json",
		"--manifest", filepath.Join(root, "connectors-wasm", "directory", "connector.json"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep bench.WebhooksReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	if !rep.ChildProcess || rep.Non2xx != 0 || rep.E2EObjects != 200 || !(rep.AcceptedPerS > 0) || !(rep.AcceptP99Ms > 0) || !(rep.BadgerPerS > 0) {
		t.Fatalf("report = %+v", rep)
	}
}

func TestBenchWebhooksRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--events", "5"}, {"--concurrency", "0"}} {
		code, _, errs := run(t, append([]string{"bench", "webhooks"}, args...)...)
		if code != 2 {
			t.Errorf("%v: exit %d (%s), want 2", args, code, errs)
		}
	}
}
