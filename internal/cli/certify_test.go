package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/conformance/report"
)

// certify against a live sandbox URL: the directory example reaches
// Gold (exit 0), prints a plain line per check when not on a terminal,
// and writes the JSON and HTML reports.
func TestCertifyDirectoryReachesGold(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole suite")
	}
	f := setup(t, 100)
	module, manifest, base := f.module, f.manifest, f.base
	dir := t.TempDir()
	out, html := filepath.Join(dir, "report.json"), filepath.Join(dir, "report.html")
	code, stdout, stderr := run(t, "certify", "--module", module, "--manifest", manifest, "--sandbox-url", base,
		"--level", "gold", "--out", out, "--html", html, "--call-timeout", "60s")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"pass correctness.ingest", "pass security.secrets", "pass privacy.retention", "reached gold (asked gold)"} {
		if !strings.Contains(strings.Join(strings.Fields(stdout), " "), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	rep, err := report.Parse(mustRead(t, out))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Reached != report.Gold || !rep.Passed || rep.Mode != "live" || rep.Connector != "directory" {
		t.Fatalf("report: reached %s passed %v mode %s connector %s", rep.Reached, rep.Passed, rep.Mode, rep.Connector)
	}
	h := string(mustRead(t, html))
	if !strings.Contains(h, "<h1>directory") || !strings.Contains(h, `id="security.secrets"`) {
		t.Fatalf("HTML report lacks the connector or a check:\n%.500s", h)
	}
}

// A module that fails exits 1 naming each failed check; bad usage exits 2.
func TestCertifyFailuresAndUsage(t *testing.T) {
	module := setup(t, 10).module
	bad := filepath.Join(t.TempDir(), "connector.json")
	if err := os.WriteFile(bad, []byte(`{"id":"x"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, "certify", "--module", module, "--manifest", bad, "--level", "bronze")
	if code != 1 || !strings.Contains(stderr, "static.manifest (fail") || !strings.Contains(stderr, "correctness.ingest (skip") {
		t.Fatalf("invalid manifest: exit %d, stderr:\n%s", code, stderr)
	}
	for _, args := range [][]string{
		{"certify", "--manifest", bad},
		{"certify", "--module", module, "--manifest", bad, "--level", "platinum"},
		{"certify", "--module", module, "--manifest", bad, "--sandbox-url", "http://127.0.0.1:1", "--tape", t.TempDir()},
		{"certify", "--module", filepath.Join(t.TempDir(), "missing.wasm"), "--manifest", bad},
		{"certify", "--module", module, "--manifest", bad, "--bogus"},
	} {
		if code, _, stderr := run(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args[1:], code, stderr)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
