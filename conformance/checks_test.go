package conformance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance"
	"github.com/sluicehq/sluice/store"
)

// editManifest returns the directory target with its manifest changed.
func editManifest(t *testing.T, edit func(m map[string]any)) conformance.Target {
	t.Helper()
	tg := target(t, "directory")
	var m map[string]any
	if err := json.Unmarshal(tg.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	tg.Manifest = b
	return tg
}

func verdictOf(t *testing.T, tg conformance.Target, id string, opts ...conformance.Option) conformance.Result {
	t.Helper()
	rep, err := conformance.Certify(t.Context(), tg, append(testOptions(t, "directory", conformance.WithOnly(id)), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if tr, ok := rep.Result("test.tamper"); ok && tr.Status != conformance.Pass {
		t.Fatalf("tamper: %s", tr.Reason)
	}
	r, ok := rep.Result(id)
	if !ok {
		t.Fatalf("no result for %s", id)
	}
	return r
}

// Manifest-level checks pass on the directory example and fail on a
// manifest edited to violate each.
func TestManifestChecksFailOnViolations(t *testing.T) {
	t.Parallel()
	first := func(m map[string]any, key string) map[string]any { return m[key].([]any)[0].(map[string]any) }
	cases := []struct {
		id     string
		edit   func(m map[string]any)
		reason string
	}{
		{"static.manifest", func(m map[string]any) { delete(m, "hosts") }, "hosts"},
		{"static.scope-reasons", func(m map[string]any) { first(m, "scopes")["reason"] = "needed" }, "too short"},
		{"static.hosts", func(m map[string]any) {
			m["hosts"] = append(m["hosts"].([]any), map[string]any{"host": "api.example.com", "scheme": "http", "methods": []any{"GET"}})
		}, "not https"},
		{"privacy.pii-classes", func(m map[string]any) {
			first(m, "object_types")["fields"].(map[string]any)["email"] = map[string]any{"pii": "none"}
		}, "identifies a person"},
		{"correctness.discover-stable", func(m map[string]any) { m["version"] = "1.0.1" }, "version"},
	}
	for _, tc := range cases {
		t.Run(tc.id, func(t *testing.T) {
			t.Parallel()
			if r := verdictOf(t, target(t, "directory"), tc.id); r.Status != conformance.Pass {
				t.Fatalf("directory: %s: %s", r.Status, r.Reason)
			}
			r := verdictOf(t, editManifest(t, tc.edit), tc.id)
			if r.Status != conformance.Fail || !strings.Contains(r.Reason, tc.reason) || r.Fix == "" {
				t.Fatalf("edited: %s: %q (fix %q), want a failure mentioning %q", r.Status, r.Reason, r.Fix, tc.reason)
			}
		})
	}
}

// withTamper is the default registry with a check that runs fn after the
// baseline syncs, made a need of check id: the host never lets a module
// break what id checks, so the store is broken by hand to prove the
// check sees it.
func withTamper(id string, fn func(ctx context.Context, env *conformance.Env) error) conformance.Option {
	reg := conformance.NewRegistry()
	for _, c := range conformance.Default().Checks() {
		if c.ID == id {
			tamper := conformance.Check{ID: "test.tamper", Gate: conformance.GateCorrectness, Level: conformance.Bronze,
				Title: "tamper", Proves: "nothing", Fix: "none", Needs: []string{"correctness.ingest"}, Live: true,
				Run: func(ctx context.Context, env *conformance.Env) conformance.Verdict {
					if err := fn(ctx, env); err != nil {
						return conformance.Verdict{Status: conformance.Fail, Reason: err.Error()}
					}
					return conformance.Verdict{Status: conformance.Pass}
				}}
			if err := reg.Register(tamper); err != nil {
				panic(err)
			}
			c.Needs = append(c.Needs, "test.tamper")
		}
		if err := reg.Register(c); err != nil {
			panic(err)
		}
	}
	return conformance.WithRegistry(reg)
}

// plant commits one object straight into a tenant's store, bypassing
// the host's emit door.
func plant(ctx context.Context, env *conformance.Env, tenant, src, data string, lineage bool) error {
	t, err := env.Store.Tenant(tenant)
	if err != nil {
		return err
	}
	entityID := store.EntityID(tenant, env.Manifest.ID, "user", src)
	obj := store.Object{EntityID: entityID, Connection: conformance.ConnID, Connector: env.Manifest.ID, Type: "user",
		SourceID: src, Data: json.RawMessage(data), Digest: strings.Repeat("0", 64), RunID: "planted"}
	pg := store.Page{Connection: conformance.ConnID, Run: store.Run{ID: "planted", Connection: conformance.ConnID, Connector: env.Manifest.ID, Version: env.Manifest.Version, Kind: "sync", State: store.RunSucceeded, StartedAt: time.Now()},
		Objects: []store.Object{obj}}
	if lineage {
		pg.Lineage = []store.Lineage{{EntityID: entityID, SourceObjectID: src, ObjectType: "user", Connection: conformance.ConnID, RunID: "planted", Confidence: 1, ObservedAt: time.Now()}}
	}
	_, err = t.CommitPage(ctx, pg)
	return err
}

// Host-enforced checks pass on the directory example (the whole suite,
// TestDirectoryPassesEveryImplementedCheck) and fail on a store broken
// the way each guards against. (security.tenant-isolation has no such
// test: the store itself refuses an entity id not derived from its own
// tenant, so not even a planted record can break it.)
func TestHostEnforcedChecksSeeTampering(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs baseline syncs")
	}
	tg := target(t, "directory")
	cases := []struct {
		id     string
		tamper func(ctx context.Context, env *conformance.Env) error
		reason string
	}{
		{"privacy.allow-list", func(ctx context.Context, env *conformance.Env) error {
			return plant(ctx, env, conformance.TenantA, "planted-x", `{"id":"x","phone":"+1 555"}`, true)
		}, `"phone", outside the allow-list`},
		{"provenance.lineage", func(ctx context.Context, env *conformance.Env) error {
			return plant(ctx, env, conformance.TenantA, "planted-y", `{"id":"y"}`, false)
		}, "no lineage"},
		{"provenance.receipts", func(ctx context.Context, env *conformance.Env) error {
			// A run whose receipt was signed by a key the host does not trust.
			b := env.Baseline(ctx)
			res := *b.A.Result
			res.Envelope = bytes.Replace(res.Envelope, []byte(`"sig":"`), []byte(`"sig":"AAAA`), 1)
			env.Observe("forged", conformance.TenantA, &res, nil)
			return nil
		}, "signature"},
		{"security.secrets", func(ctx context.Context, env *conformance.Env) error {
			return plant(ctx, env, conformance.TenantA, "planted-s", fmt.Sprintf(`{"id":"s","name":%q}`, env.Canaries[0]), true)
		}, "canary"},
	}
	for _, tc := range cases {
		t.Run(tc.id, func(t *testing.T) {
			t.Parallel()
			r := verdictOf(t, tg, tc.id, withTamper(tc.id, tc.tamper))
			if r.Status != conformance.Fail || !strings.Contains(r.Reason, tc.reason) {
				t.Fatalf("%s: %q, want a failure mentioning %q", r.Status, r.Reason, tc.reason)
			}
		})
	}
}

// Run reports every check as a subtest and passes when the level's
// checks pass.
func TestRunReportsSubtests(t *testing.T) {
	t.Parallel()
	rep := conformance.Run(t, target(t, "directory"), testOptions(t, "directory",
		conformance.WithOnly("static.scope-reasons", "privacy.pii-classes"), conformance.WithLevel(conformance.Silver))...)
	if rep == nil || !rep.Passed || len(rep.Results) != 3 {
		t.Fatalf("report = %+v", rep)
	}
}

// A tape set that does not exist is a clear error, not a report.
func TestTapeModeNeedsTapes(t *testing.T) {
	tg := target(t, "directory")
	tg.Tapes = t.TempDir()
	if _, err := conformance.Certify(t.Context(), tg); err == nil || !strings.Contains(err.Error(), "no *.json tapes") {
		t.Fatalf("Certify = %v, want an error naming the missing tapes", err)
	}
	tg.SandboxURL = "http://127.0.0.1:1"
	if _, err := conformance.Certify(t.Context(), tg); err == nil {
		t.Fatal("a URL and tapes together were accepted")
	}
}

// Tape mode: tapes recorded from a live run replay identically and show
// only declared egress; the checks that need a live remote are skipped,
// so tape mode alone reaches no level.
func TestTapeModeReplaysRecordedTapes(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("records a live run first")
	}
	dir := t.TempDir()
	save := conformance.Check{ID: "test.save-tape", Gate: conformance.GateCorrectness, Level: conformance.Bronze,
		Title: "save the baseline tape", Proves: "nothing", Fix: "none", Needs: []string{"correctness.ingest"}, Live: true,
		Run: func(ctx context.Context, env *conformance.Env) conformance.Verdict {
			b, err := json.Marshal(env.Baseline(ctx).A.Result.Tape)
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, "baseline.json"), b, 0o644)
			}
			if err != nil {
				return conformance.Verdict{Status: conformance.Fail, Reason: err.Error()}
			}
			return conformance.Verdict{Status: conformance.Pass}
		}}
	tg := target(t, "directory")
	if _, err := conformance.Certify(t.Context(), tg, testOptions(t, "directory", conformance.WithChecks(save), conformance.WithOnly(save.ID))...); err != nil {
		t.Fatal(err)
	}
	tg.Tapes = dir
	rep, err := conformance.Certify(t.Context(), tg, testOptions(t, "directory")...)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Mode != "tape" || rep.Reached != conformance.None {
		t.Fatalf("mode %s reached %s, want tape and none", rep.Mode, rep.Reached)
	}
	for id, want := range map[string]conformance.Status{"correctness.replay": conformance.Pass, "security.egress": conformance.Pass,
		"correctness.discover-stable": conformance.Pass, "correctness.ingest": conformance.Skip, "security.secrets": conformance.Skip} {
		if r, _ := rep.Result(id); r.Status != want {
			t.Errorf("%s: %s (%s), want %s", id, r.Status, r.Reason, want)
		}
	}
}
