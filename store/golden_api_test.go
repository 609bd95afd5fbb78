package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGoldenAPI pins the keys and values of the records package api
// owns: API keys (p/ak/, p/akb) and usage (t/{tenant}/u/). They live in
// testdata/golden_api, apart from TestGolden's directory, which that test
// wipes on -update. Run with -update after an intended format change.
func TestGoldenAPI(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	p := db.Platform()
	admin := apiKey("a1", RoleAdmin)
	admin.Name = "first admin"
	mustNil(t, p.BootstrapAPIKey(ctx, admin))
	mustNil(t, p.CreateAPIKey(ctx, apiKey("k-partner", RolePartner)))
	mustNil(t, p.CreateAPIKey(ctx, apiKey("k-tenant", RoleTenantAdmin)))
	mustNil(t, p.CreateAPIKey(ctx, apiKey("k-reviewer", RoleReviewer)))
	_, err := p.RevokeAPIKey(ctx, "k-reviewer", t0.Add(time.Hour))
	mustNil(t, err)
	tn := tenant(t, db, "acme")
	mustNil(t, tn.AddUsage(ctx, "2025-01-02", "directory", Usage{Records: 10, Bytes: 2048, RemoteCalls: 3, WasmMillis: 41, Runs: 1}))
	mustNil(t, tn.AddUsage(ctx, "2025-01-02", "directory", Usage{Records: 1, Runs: 1}))
	mustNil(t, tn.AddUsage(ctx, "2025-01-03", "crm", Usage{RemoteCalls: 1}))

	byKind := map[string][]string{}
	for _, kv := range dump(t, db) {
		var kind string
		switch {
		case strings.HasPrefix(kv, "p/ak/"):
			kind = "ak"
		case strings.HasPrefix(kv, "p/akb "):
			kind = "akb"
		case strings.HasPrefix(kv, "t/acme/u/"):
			kind = "u"
		default:
			t.Fatalf("unexpected key %s", kv)
		}
		byKind[kind] = append(byKind[kind], kv)
	}
	dir := filepath.Join("testdata", "golden_api")
	for _, kind := range []string{"ak", "akb", "u"} {
		path := filepath.Join(dir, kind+".txt")
		got := strings.Join(byKind[kind], "\n") + "\n"
		if len(byKind[kind]) == 0 {
			t.Errorf("scenario writes no %q record", kind)
		}
		if *update {
			mustNil(t, os.MkdirAll(dir, 0o755))
			mustNil(t, os.WriteFile(path, []byte(got), 0o644))
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v (run go test ./store -run TestGoldenAPI -update)", err)
			continue
		}
		if got != string(want) {
			t.Errorf("%s differs from the stored format:\n--- got\n%s--- want\n%s", path, got, want)
		}
	}
}
