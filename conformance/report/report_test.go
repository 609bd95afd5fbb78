package report_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/report"
)

var update = flag.Bool("update", false, "rewrite testdata from the current format")

// sample is a report over four checks, one of each outcome that matters:
// Bronze passes, Silver fails on a failed check, Gold on a skipped one.
func sample() *report.Report {
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	r := &report.Report{Version: report.FormatVersion, Connector: "directory", ConnectorVersion: "1.0.0",
		ModuleDigest: "sha256:" + string(bytes.Repeat([]byte("ab"), 32)), Mode: "live",
		Claimed: report.Gold, Requested: report.Gold, StartedAt: at, SetupMS: 1200, WallMS: 5400,
		Groups: []report.GroupTiming{{Gate: report.GateCorrectness, Checks: 2, WallMS: 800}, {Gate: report.GateSecurity, Checks: 1, WallMS: 300}, {Gate: report.GatePrivacy, Checks: 1, WallMS: 0}}}
	r.Results = []report.Result{
		report.NewResult("correctness.ingest", report.GateCorrectness, report.Bronze, "A full sync completes", "fix ingest",
			report.Verdict{Status: report.Pass, Reason: "two tenants synced 105 objects each", Evidence: map[string]int{"objects": 105}}, 700*time.Millisecond),
		report.NewResult("security.secrets", report.GateSecurity, report.Bronze, "Canary secrets never leak", "never log secrets",
			report.Verdict{Status: report.Pass, Reason: "4 canaries absent"}, 300*time.Millisecond),
		report.NewResult("correctness.stable-ids", report.GateCorrectness, report.Silver, "Stable <ids> & \"quotes\"", "emit the remote's id",
			report.Verdict{Status: report.Fail, Reason: "ids differ: <script>alert(1)</script>", Evidence: []string{"user/u-1"}}, 100*time.Millisecond),
		report.NewResult("privacy.retention", report.GatePrivacy, report.Gold, "Retention", "declare retention_days",
			report.Verdict{Status: report.Skip, Reason: "not yet implemented by this host"}, 0),
	}
	r.Evaluate()
	return r
}

func TestEvaluateLevels(t *testing.T) {
	r := sample()
	if r.Reached != report.Bronze || r.Passed {
		t.Fatalf("reached %s passed %v, want bronze and not passed", r.Reached, r.Passed)
	}
	if !r.Levels[0].Reached || r.Levels[1].Reached || r.Levels[2].Reached {
		t.Fatalf("levels = %+v", r.Levels)
	}
	if got := r.Levels[2].Skipped; len(got) != 1 || got[0] != "privacy.retention" {
		t.Fatalf("gold skipped = %v", got)
	}
	if f := r.Failures(); len(f) != 2 || f[0].Fix == "" {
		t.Fatalf("failures = %+v, want two with a fix", f)
	}
	if ok, _ := r.Result("security.secrets"); ok.Fix != "" {
		t.Fatal("a passed check carries a fix")
	}
	r.Requested = report.Bronze
	r.Evaluate()
	if !r.Passed {
		t.Fatal("bronze requested and reached, but not passed")
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]report.Level{"bronze": report.Bronze, "Silver": report.Silver, " GOLD ": report.Gold} {
		if got, err := report.ParseLevel(in); err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v", in, got, err)
		}
	}
	var le *report.LevelError
	if _, err := report.ParseLevel("platinum"); !errors.Is(err, report.ErrUnknownLevel) || !errors.As(err, &le) {
		t.Fatalf("ParseLevel(platinum) = %v", err)
	}
}

// The JSON and HTML forms are pinned by golden files; Parse reads the
// JSON back and refuses other versions and unknown fields.
func TestGoldenReport(t *testing.T) {
	r := sample()
	js, err := r.MarshalIndent()
	if err != nil {
		t.Fatal(err)
	}
	html, err := r.HTML()
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]byte{"report.golden.json": js, "report.golden.html": html} {
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s drifted (run go test ./conformance/report -update if the change is meant):\n%s", name, got)
		}
	}
	back, err := report.Parse(js)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := back.MarshalIndent()
	if !bytes.Equal(again, js) {
		t.Fatal("a parsed report does not encode to the same bytes")
	}
	if bytes.Contains(html, []byte("<script>")) {
		t.Fatal("the HTML report does not escape a reason")
	}
	for _, bad := range []string{`{"version":2}`, `{"version":1,"surprise":true}`, `not json`} {
		if _, err := report.Parse([]byte(bad)); !errors.Is(err, report.ErrFormat) {
			t.Errorf("Parse(%s) = %v, want ErrFormat", bad, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	js, _ := sample().MarshalIndent()
	f.Add(js)
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := report.Parse(b)
		if err != nil {
			return
		}
		if _, err := r.MarshalIndent(); err != nil {
			t.Fatal(err)
		}
		if _, err := r.HTML(); err != nil {
			t.Fatal(err)
		}
	})
}
