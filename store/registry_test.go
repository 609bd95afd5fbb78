package store

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	regModuleV1 = []byte("\x00asm\x01\x00\x00\x00 module v1")
	regModuleV2 = []byte("\x00asm\x01\x00\x00\x00 module v2")
	regRunbook  = []byte("# Auth failed\n\nRotate the client secret.\n")
)

func regVersion(version string, module []byte, owner string, at time.Time) RegistryVersion {
	return RegistryVersion{
		Connector:    "directory",
		Version:      version,
		Manifest:     json.RawMessage(`{"id":"directory","version":"` + version + `","runbooks":[{"error_type":"auth_failed","path":"runbooks/auth.md"}]}`),
		ModuleDigest: BlobDigest(module),
		ModuleSize:   int64(len(module)),
		BundleDigest: BlobDigest([]byte(version)),
		Runbooks:     map[string]string{"runbooks/auth.md": BlobDigest(regRunbook)},
		UploadedBy:   owner,
		UploadedAt:   at,
	}
}

func regConnector(latest, owner string, created, updated time.Time) RegistryConnector {
	return RegistryConnector{ID: "directory", Owner: owner, Latest: latest, CreatedAt: created, UpdatedAt: updated}
}

// writeRegistryScenario writes two versions of one connector that share
// a runbook, and a second connector, covering every registry kind.
func writeRegistryScenario(t *testing.T, db *DB) {
	ctx := context.Background()
	p := db.Platform()
	mustNil(t, p.PutRegistryVersion(ctx, regConnector("1.0.0", "partner-a", t0, t0),
		regVersion("1.0.0", regModuleV1, "partner-a", t0), [][]byte{regModuleV1, regRunbook}))
	// The runbook is stored already: v2 need not send it again.
	v2 := regVersion("1.1.0", regModuleV2, "partner-a", t0.Add(time.Hour))
	v2.Certification = "gold"
	mustNil(t, p.PutRegistryVersion(ctx, regConnector("1.1.0", "partner-a", t0, t0.Add(time.Hour)), v2, [][]byte{regModuleV2}))
	other := RegistryVersion{
		Connector: "acme-crm", Version: "0.1.0-rc.1", Manifest: json.RawMessage(`{"id":"acme-crm"}`),
		ModuleDigest: BlobDigest(regModuleV1), ModuleSize: int64(len(regModuleV1)),
		BundleDigest: BlobDigest([]byte("acme")), UploadedBy: "partner-b", UploadedAt: t0,
	}
	mustNil(t, p.PutRegistryVersion(ctx, RegistryConnector{ID: "acme-crm", Owner: "partner-b", Latest: "0.1.0-rc.1", CreatedAt: t0, UpdatedAt: t0}, other, nil))
}

func TestRegistryGolden(t *testing.T) {
	db := openDB(t)
	writeRegistryScenario(t, db)
	byKind := map[string][]string{}
	for _, kv := range dump(t, db) {
		seg := strings.SplitN(kv, "/", 4) // p, reg, kind, rest
		if len(seg) < 4 || seg[0] != "p" || seg[1] != "reg" {
			t.Fatalf("unexpected key %s", kv)
		}
		byKind[seg[2]] = append(byKind[seg[2]], kv)
	}
	kinds := []string{kRegConnector, kRegVersion, kRegBlob}
	dir := filepath.Join("testdata", "golden-registry")
	if *update {
		mustNil(t, os.RemoveAll(dir))
		mustNil(t, os.MkdirAll(dir, 0o755))
	}
	for _, k := range kinds {
		kind := strings.TrimSuffix(strings.TrimPrefix(k, "reg/"), "/")
		lines := byKind[kind]
		if len(lines) == 0 {
			t.Errorf("registry scenario writes no %q record", k)
			continue
		}
		path := filepath.Join(dir, kind+".txt")
		got := strings.Join(lines, "\n") + "\n"
		if *update {
			mustNil(t, os.WriteFile(path, []byte(got), 0o644))
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v (run go test ./store -run TestRegistryGolden -update)", err)
			continue
		}
		if got != string(want) {
			t.Errorf("%s differs from the stored format:\n--- got\n%s--- want\n%s", path, got, want)
		}
	}
	if len(byKind) != len(kinds) {
		t.Errorf("registry scenario writes kinds %v, want exactly %v", keysOf(byKind), kinds)
	}
}

func keysOf(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRegistryReads(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	writeRegistryScenario(t, db)
	p := db.Platform()

	cs, err := p.RegistryConnectors(ctx)
	mustNil(t, err)
	if len(cs) != 2 || cs[0].ID != "acme-crm" || cs[1].ID != "directory" || cs[1].Latest != "1.1.0" || cs[1].Owner != "partner-a" {
		t.Fatalf("RegistryConnectors = %+v", cs)
	}
	vs, err := p.RegistryVersions(ctx, "directory")
	mustNil(t, err)
	if len(vs) != 2 || vs[0].Version != "1.0.0" || vs[1].Version != "1.1.0" || vs[1].Certification != "gold" {
		t.Fatalf("RegistryVersions = %+v", vs)
	}
	if !vs[0].UploadedAt.Equal(t0) || vs[0].UploadedAt.Location() != time.UTC {
		t.Errorf("UploadedAt = %v, want %v in UTC", vs[0].UploadedAt, t0)
	}
	if vs, err := p.RegistryVersions(ctx, "unknown"); err != nil || len(vs) != 0 {
		t.Errorf("RegistryVersions(unknown) = %v, %v; want none", vs, err)
	}
	// "directory" must not list the versions of "directory-x".
	x := regVersion("9.0.0", regModuleV1, "partner-c", t0)
	x.Connector = "directory-x"
	mustNil(t, p.PutRegistryVersion(ctx, RegistryConnector{ID: "directory-x", Owner: "partner-c", Latest: "9.0.0"}, x, nil))
	if vs, _ := p.RegistryVersions(ctx, "directory"); len(vs) != 2 {
		t.Errorf("RegistryVersions(directory) = %d versions after adding directory-x, want 2", len(vs))
	}

	v, err := p.RegistryVersion(ctx, "directory", "1.0.0")
	mustNil(t, err)
	for _, d := range []string{v.ModuleDigest, v.Runbooks["runbooks/auth.md"]} {
		b, err := p.RegistryBlob(ctx, d)
		mustNil(t, err)
		if BlobDigest(b) != d {
			t.Errorf("RegistryBlob(%s) returned other content", d)
		}
	}
	for name, err := range map[string]error{
		"connector": func() error { _, err := p.RegistryConnector(ctx, "nope"); return err }(),
		"version":   func() error { _, err := p.RegistryVersion(ctx, "directory", "3.0.0"); return err }(),
		"blob":      func() error { _, err := p.RegistryBlob(ctx, BlobDigest([]byte("nope"))); return err }(),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: err = %v, want ErrNotFound", name, err)
		}
	}
	for name, err := range map[string]error{
		"connector id": func() error { _, err := p.RegistryConnector(ctx, "../t/acme"); return err }(),
		"version":      func() error { _, err := p.RegistryVersion(ctx, "directory", "1.0.0/x"); return err }(),
		"digest":       func() error { _, err := p.RegistryBlob(ctx, "sha256:a/b"); return err }(),
	} {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func TestPutRegistryVersionRefusals(t *testing.T) {
	ctx := context.Background()
	at := t0.Add(2 * time.Hour)
	tests := []struct {
		name  string
		c     RegistryConnector
		v     RegistryVersion
		blobs [][]byte
		want  error
	}{
		{"existing version", regConnector("1.0.0", "partner-a", t0, at), regVersion("1.0.0", regModuleV2, "partner-a", at), [][]byte{regModuleV2}, ErrExists},
		{"other owner", regConnector("2.0.0", "partner-b", t0, at), regVersion("2.0.0", regModuleV2, "partner-b", at), nil, ErrExists},
		{"missing blob", regConnector("2.0.0", "partner-a", t0, at), regVersion("2.0.0", []byte("new module"), "partner-a", at), nil, ErrInvalid},
		{"wrong blob", regConnector("2.0.0", "partner-a", t0, at), regVersion("2.0.0", []byte("new module"), "partner-a", at), [][]byte{[]byte("other")}, ErrInvalid},
		{"connector mismatch", RegistryConnector{ID: "other", Owner: "partner-a", Latest: "2.0.0"}, regVersion("2.0.0", regModuleV1, "partner-a", at), nil, ErrInvalid},
		{"bad version", regConnector("2.0.0+x", "partner-a", t0, at), regVersion("2.0.0+x", regModuleV1, "partner-a", at), nil, ErrInvalid},
		{"no owner", regConnector("2.0.0", "", t0, at), regVersion("2.0.0", regModuleV1, "partner-a", at), nil, ErrInvalid},
		{"manifest not JSON", regConnector("2.0.0", "partner-a", t0, at), func() RegistryVersion {
			v := regVersion("2.0.0", regModuleV1, "partner-a", at)
			v.Manifest = json.RawMessage("{")
			return v
		}(), nil, ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openDB(t)
			writeRegistryScenario(t, db)
			before := dump(t, db)
			err := db.Platform().PutRegistryVersion(ctx, tc.c, tc.v, tc.blobs)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if after := dump(t, db); strings.Join(after, "\n") != strings.Join(before, "\n") {
				t.Errorf("a refused write changed the store")
			}
		})
	}
}

// TestRegistryBlobDedup checks that a blob named by many versions is
// stored once and never rewritten.
func TestRegistryBlobDedup(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	writeRegistryScenario(t, db)
	n := 0
	for _, kv := range dump(t, db) {
		if strings.HasPrefix(kv, "p/reg/b/"+BlobDigest(regModuleV1)) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("module v1, named by two connectors, is stored %d times", n)
	}
	if _, err := db.Platform().RegistryBlob(ctx, BlobDigest(regRunbook)); err != nil {
		t.Errorf("shared runbook: %v", err)
	}
}
