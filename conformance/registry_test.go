package conformance_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/conformance"
)

var update = flag.Bool("update", false, "rewrite docs/certification.md from the registry")

func okCheck(id string, needs ...string) conformance.Check {
	return conformance.Check{ID: id, Gate: conformance.GateCorrectness, Level: conformance.Bronze, Title: "t", Proves: "p", Fix: "f", Needs: needs,
		Run: func(context.Context, *conformance.Env) conformance.Verdict {
			return conformance.Verdict{Status: conformance.Pass}
		}}
}

func TestRegistryRefusesBadChecks(t *testing.T) {
	r := conformance.NewRegistry()
	final := okCheck("test.final")
	final.Final = true
	for _, c := range []conformance.Check{okCheck("test.one"), final} {
		if err := r.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	bad := func(mut func(*conformance.Check)) conformance.Check {
		c := okCheck("test.two")
		mut(&c)
		return c
	}
	cases := []struct {
		name string
		c    conformance.Check
		want error
	}{
		{"duplicate", okCheck("test.one"), conformance.ErrDuplicateCheck},
		{"bad id", okCheck("Test One"), conformance.ErrInvalidCheck},
		{"no dot", okCheck("test"), conformance.ErrInvalidCheck},
		{"unknown gate", bad(func(c *conformance.Check) { c.Gate = "X" }), conformance.ErrInvalidCheck},
		{"no level", bad(func(c *conformance.Check) { c.Level = conformance.None }), conformance.ErrInvalidCheck},
		{"no fix", bad(func(c *conformance.Check) { c.Fix = "" }), conformance.ErrInvalidCheck},
		{"no run", bad(func(c *conformance.Check) { c.Run = nil }), conformance.ErrInvalidCheck},
		{"unknown need", okCheck("test.two", "test.zero"), conformance.ErrInvalidCheck},
		{"needs a final check", okCheck("test.two", "test.final"), conformance.ErrInvalidCheck},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := r.Register(tc.c)
			var ce *conformance.CheckError
			if !errors.Is(err, tc.want) || !errors.As(err, &ce) || ce.ID != tc.c.ID {
				t.Fatalf("Register = %v, want %v naming %q", err, tc.want, tc.c.ID)
			}
		})
	}
	if got := len(r.Checks()); got != 2 {
		t.Fatalf("%d checks registered, want 2", got)
	}
}

// Default returns a fresh registry each time: registering into one does
// not change another.
func TestDefaultIsAValue(t *testing.T) {
	a, b := conformance.Default(), conformance.Default()
	if err := a.Register(okCheck("partner.extra")); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Check("partner.extra"); ok {
		t.Fatal("a check registered in one Default() registry is in another")
	}
	seen := map[string]bool{}
	for _, c := range b.Checks() {
		if seen[c.ID] {
			t.Fatalf("duplicate id %s", c.ID)
		}
		seen[c.ID] = true
	}
	for id := range defects {
		if !seen[defects[id]] {
			t.Fatalf("defect %s maps to unknown check %s", id, defects[id])
		}
	}
}

// docs/certification.md is generated from the registry; it fails here
// when the two drift.
func TestCertificationDoc(t *testing.T) {
	path := filepath.Join("..", "docs", "certification.md")
	got := conformance.Markdown(conformance.Default())
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./conformance -run TestCertificationDoc -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("docs/certification.md is out of date with the check registry (run go test ./conformance -run TestCertificationDoc -update)")
	}
}
