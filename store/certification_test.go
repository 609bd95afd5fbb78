package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func certOf(version, level string, module []byte) Certification {
	return Certification{Connector: "directory", Version: version, Submission: "sub-" + version, Level: level,
		ModuleDigest: BlobDigest(module), SubmittedBy: "key-p1", SubmittedAt: t0, FinishedAt: t0.Add(9 * time.Second)}
}

// TestGoldenCertification pins p/cert/ records and the version record a
// submission rewrites, in testdata/golden_certification (run with
// -update after an intended format change).
func TestGoldenCertification(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	writeRegistryScenario(t, db)
	p := db.Platform()
	mustNil(t, p.PutCertification(ctx, certOf("1.0.0", "silver", regModuleV1), []byte(`{"version":1,"reached":"silver"}`)))
	mustNil(t, p.PutCertification(ctx, certOf("1.1.0", "none", regModuleV2), []byte(`{"version":1,"reached":"none"}`)))
	var lines []string
	for _, kv := range dump(t, db) {
		if strings.HasPrefix(kv, "p/cert/") || strings.HasPrefix(kv, "p/reg/v/directory/") {
			lines = append(lines, kv)
		}
	}
	got := strings.Join(lines, "\n") + "\n"
	path := filepath.Join("testdata", "golden_certification", "cert.txt")
	if *update {
		mustNil(t, os.MkdirAll(filepath.Dir(path), 0o755))
		mustNil(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./store -run TestGoldenCertification -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the stored format:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestCertificationRecords(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	writeRegistryScenario(t, db)
	p := db.Platform()
	if _, err := p.CertificationReport(ctx, "directory", "1.0.0"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("report before submission: %v, want ErrNotFound", err)
	}
	mustNil(t, p.PutCertification(ctx, certOf("1.0.0", "gold", regModuleV1), []byte(`{"reached":"gold"}`)))
	v, err := p.RegistryVersion(ctx, "directory", "1.0.0")
	mustNil(t, err)
	if v.Certification != "gold" {
		t.Errorf("version certification = %q, want gold", v.Certification)
	}
	// A later submission that reaches nothing clears the version's level.
	mustNil(t, p.PutCertification(ctx, certOf("1.0.0", "none", regModuleV1), []byte(`{"reached":"none"}`)))
	v, _ = p.RegistryVersion(ctx, "directory", "1.0.0")
	c, err := p.Certification(ctx, "directory", "1.0.0")
	mustNil(t, err)
	if v.Certification != "" || c.Level != "none" {
		t.Errorf("after a failed resubmission: version %q, record %q; want \"\" and none", v.Certification, c.Level)
	}
	rep, err := p.CertificationReport(ctx, "directory", "1.0.0")
	if err != nil || string(rep) != `{"reached":"none"}` {
		t.Errorf("report = %s, %v", rep, err)
	}
	all, err := p.Certifications(ctx)
	if err != nil || len(all) != 1 || all[0].Version != "1.0.0" {
		t.Errorf("Certifications = %+v, %v", all, err)
	}

	bad := []struct {
		name   string
		c      Certification
		report string
		want   error
	}{
		{"unknown version", certOf("9.9.9", "gold", regModuleV1), `{}`, ErrNotFound},
		{"other module", certOf("1.0.0", "gold", regModuleV2), `{}`, ErrInvalid},
		{"bad level", certOf("1.0.0", "platinum", regModuleV1), `{}`, ErrInvalid},
		{"not json", certOf("1.0.0", "gold", regModuleV1), `{`, ErrInvalid},
		{"no submitter", func() Certification { c := certOf("1.0.0", "gold", regModuleV1); c.SubmittedBy = ""; return c }(), `{}`, ErrInvalid},
		{"bad id", func() Certification { c := certOf("1.0.0", "gold", regModuleV1); c.Connector = "../x"; return c }(), `{}`, ErrInvalid},
	}
	for _, tc := range bad {
		if err := p.PutCertification(ctx, tc.c, []byte(tc.report)); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if c, _ := p.Certification(ctx, "directory", "1.0.0"); c.Level != "none" {
		t.Errorf("a refused put changed the record: %+v", c)
	}
}
