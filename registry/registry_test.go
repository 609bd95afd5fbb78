package registry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/registry"
)

const runbookMD = "# Authentication failed\n\nRotate the client secret, then re-authorize the connection.\n"

// directoryBundle is the directory connector with one runbook.
func directoryBundle(t testing.TB) *registry.Bundle {
	doc := editManifest(t, directoryManifest(t), func(m *protocol.Manifest) {
		m.Runbooks = []protocol.Runbook{{ErrorType: "auth_failed", Path: "runbooks/auth_failed.md"}}
	})
	return &registry.Bundle{
		Module:   build(t, "directory"),
		Manifest: doc,
		Runbooks: map[string][]byte{"runbooks/auth_failed.md": []byte(runbookMD)},
	}
}

func TestUploadAndReadBack(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	want := directoryBundle(t)
	// Through the parser, as the API receives it.
	b, err := registry.ParseBundle(bytes.NewReader(bundleTarGz(t, want)), "application/gzip", 0)
	if err != nil {
		t.Fatal(err)
	}
	v := r.mustUpload("partner-a", b)
	if v.Connector != "directory" || v.Version != "1.0.0" || v.Digest != engine.Digest(want.Module) ||
		v.Size != int64(len(want.Module)) || v.UploadedBy != "partner-a" || !v.UploadedAt.Equal(t0) ||
		v.Certification != "" || v.BundleDigest != want.Digest() || v.Spec == nil || v.Spec.ID != "directory" {
		t.Fatalf("Upload = %+v", v)
	}

	cs, err := r.reg.Connectors(ctx)
	if err != nil || len(cs) != 1 || cs[0] != (registry.Connector{ID: "directory", Owner: "partner-a", Latest: "1.0.0", CreatedAt: t0, UpdatedAt: t0}) {
		t.Fatalf("Connectors = %+v, %v", cs, err)
	}
	vs, err := r.reg.Versions(ctx, "directory")
	if err != nil || len(vs) != 1 || vs[0].Digest != v.Digest {
		t.Fatalf("Versions = %+v, %v", vs, err)
	}
	got, err := r.reg.Version(ctx, "directory", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	var stored, sent any
	_ = json.Unmarshal(got.Manifest, &stored)
	_ = json.Unmarshal(want.Manifest, &sent)
	if !jsonEqual(stored, sent) {
		t.Errorf("stored manifest differs from the uploaded one")
	}
	mod, err := r.reg.Module(ctx, "directory", "1.0.0")
	if err != nil || !bytes.Equal(mod, want.Module) {
		t.Errorf("Module: %d bytes, %v; want the uploaded %d bytes", len(mod), err, len(want.Module))
	}
	md, err := r.reg.Runbook(ctx, "directory", "1.0.0", "auth_failed")
	if err != nil || string(md) != runbookMD {
		t.Errorf("Runbook = %q, %v", md, err)
	}

	// Load: the module Upload compiled, then the same one again; a
	// restarted registry loads it from the store.
	m1, err := r.reg.Load(ctx, "directory", "1.0.0")
	if err != nil || m1.Digest != v.Digest {
		t.Fatalf("Load = %v, %v", m1, err)
	}
	if m2, _ := r.reg.Load(ctx, "directory", "1.0.0"); m2 != m1 {
		t.Errorf("second Load returned another module")
	}
	fresh := r.newRegistry()
	loads := make([]*engine.Module, 4)
	var wg sync.WaitGroup
	for i := range loads {
		wg.Go(func() { loads[i], _ = fresh.Load(ctx, "directory", "1.0.0") })
	}
	wg.Wait()
	m3 := loads[0]
	if m3 == nil || m3.Digest != v.Digest || m3.Manifest.ID != "directory" || m3 == m1 {
		t.Fatalf("Load after restart = %v", m3)
	}
	for _, m := range loads {
		if m != m3 {
			t.Errorf("concurrent first Loads returned different modules")
		}
	}
	if d, err := r.eng.Discover(ctx, m3); err != nil || d.ID != "directory" {
		t.Errorf("Discover of the loaded module = %+v, %v", d, err)
	}

	// The same bundle again, later: the stored version, nothing written.
	r.now = t0.Add(time.Hour)
	again := r.mustUpload("partner-a", want)
	if !again.UploadedAt.Equal(t0) || again.Digest != v.Digest {
		t.Errorf("idempotent re-upload = %+v, want the stored version", again)
	}
	if cs, _ := r.reg.Connectors(ctx); !cs[0].UpdatedAt.Equal(t0) {
		t.Errorf("idempotent re-upload rewrote the connector: %+v", cs[0])
	}
}

func TestReadErrors(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.mustUpload("partner-a", directoryBundle(t))
	tests := []struct {
		name  string
		call  func() error
		want  error
		field string
	}{
		{"unknown connector", func() error { _, err := r.reg.Connector(ctx, "nope"); return err }, registry.ErrNotFound, "id"},
		{"versions of unknown connector", func() error { _, err := r.reg.Versions(ctx, "nope"); return err }, registry.ErrNotFound, "id"},
		{"unknown version", func() error { _, err := r.reg.Version(ctx, "directory", "9.9.9"); return err }, registry.ErrNotFound, "version"},
		{"module of unknown version", func() error { _, err := r.reg.Module(ctx, "directory", "1.0.1"); return err }, registry.ErrNotFound, "version"},
		{"unknown runbook", func() error { _, err := r.reg.Runbook(ctx, "directory", "1.0.0", "rate_limited"); return err }, registry.ErrNotFound, "error_type"},
		{"load unknown version", func() error { _, err := r.reg.Load(ctx, "directory", "2.0.0"); return err }, registry.ErrNotFound, "version"},
		{"bad id", func() error { _, err := r.reg.Version(ctx, "../p/reg", "1.0.0"); return err }, registry.ErrInvalid, "id"},
		{"bad version", func() error { _, err := r.reg.Module(ctx, "directory", "1.0"); return err }, registry.ErrInvalid, "version"},
		{"build metadata", func() error { _, err := r.reg.Load(ctx, "directory", "1.0.0+x"); return err }, registry.ErrInvalid, "version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if e := asError(t, err); e.Errors[0].Field != tc.field {
				t.Errorf("field = %q, want %q", e.Errors[0].Field, tc.field)
			}
		})
	}
}

// TestUploadRejections uploads every kind of refused bundle and checks
// the sentinel, the code and the field named; nothing may be stored.
func TestUploadRejections(t *testing.T) {
	dir := build(t, "directory")
	dirDoc, dirRunbooks := directoryManifest(t), directoryRunbooks(t)
	// dirBundle is the directory module with doc and the runbooks the
	// connector ships, so a case fails for its own reason only.
	dirBundle := func(doc []byte) *registry.Bundle {
		return &registry.Bundle{Module: dir, Manifest: doc, Runbooks: dirRunbooks}
	}
	tests := []struct {
		name  string
		setup func(r *rig) // uploads made first, by partner-a
		by    string
		b     func(t *testing.T) *registry.Bundle
		want  error
		code  string
		field string // one of the field errors
		msg   string // in that field error's message
		n     int    // number of field errors, if not 0
	}{
		{
			name: "bad manifest",
			b: func(t *testing.T) *registry.Bundle {
				return dirBundle(editManifest(t, dirDoc, func(m *protocol.Manifest) { m.Version = "1.0.00" }))
			},
			want: registry.ErrInvalid, code: registry.CodeInvalidManifest, field: "connector.json#/version", msg: "1.0.00",
		},
		{
			name: "manifest not JSON",
			b: func(t *testing.T) *registry.Bundle {
				return &registry.Bundle{Module: dir, Manifest: []byte(`{"id":`)}
			},
			want: registry.ErrInvalid, code: registry.CodeInvalidManifest, field: "connector.json", msg: "not JSON",
		},
		{
			name: "build metadata",
			b: func(t *testing.T) *registry.Bundle {
				return dirBundle(editManifest(t, dirDoc, func(m *protocol.Manifest) { m.Version = "1.0.0+build.7" }))
			},
			want: registry.ErrInvalid, code: registry.CodeInvalidManifest, field: "connector.json#/version", msg: "build metadata",
		},
		{
			name: "forbidden import",
			b: func(t *testing.T) *registry.Bundle {
				return &registry.Bundle{Module: build(t, "forbidden-import"), Manifest: readManifest(t, "conformance/testdata/defects/forbidden-import/connector.json")}
			},
			want: registry.ErrInvalid, code: registry.CodeForbiddenImport, field: "module.wasm", msg: "extism:host/env.http_",
		},
		{
			name: "not wasm",
			b: func(t *testing.T) *registry.Bundle {
				return &registry.Bundle{Module: []byte("MZ not a wasm module"), Manifest: dirDoc, Runbooks: dirRunbooks}
			},
			want: registry.ErrInvalid, code: registry.CodeInvalidModule, field: "module.wasm", msg: "invalid module",
		},
		{
			name: "discover mismatch",
			b: func(t *testing.T) *registry.Bundle {
				return dirBundle(editManifest(t, dirDoc, func(m *protocol.Manifest) {
					m.ObjectTypes = append(m.ObjectTypes, protocol.ObjectType{
						Name:   "device",
						Schema: json.RawMessage(`{"type":"object","properties":{"id":{"type":"string"}}}`),
						Fields: map[string]protocol.FieldPolicy{"id": {PII: protocol.PIINone}},
					})
					m.Scopes[1].Reason = "Something else."
					m.Streams[0].Backfill = false
				}))
			},
			want: registry.ErrInvalid, code: registry.CodeDiscoverMismatch, field: "connector.json#/object_types/2", msg: `object type "device"`, n: 3,
		},
		{
			name: "runbook missing",
			b: func(t *testing.T) *registry.Bundle {
				b := directoryBundle(t)
				b.Runbooks = nil
				return b
			},
			want: registry.ErrInvalid, code: registry.CodeRunbookMissing, field: "connector.json#/runbooks/0/path", msg: "runbooks/auth_failed.md",
		},
		{
			name: "runbook unreferenced",
			b: func(t *testing.T) *registry.Bundle {
				b := directoryBundle(t)
				b.Runbooks["runbooks/extra.md"] = []byte("# Extra\n")
				return b
			},
			want: registry.ErrInvalid, code: registry.CodeRunbookUnreferenced, field: "runbooks/extra.md", msg: "no runbook",
		},
		{
			name: "no module",
			b: func(t *testing.T) *registry.Bundle {
				return &registry.Bundle{Manifest: dirDoc, Runbooks: dirRunbooks}
			},
			want: registry.ErrBadBundle, code: registry.CodeMissingFile, field: "module.wasm", msg: "no module.wasm",
		},
		{
			name:  "version conflict",
			setup: func(r *rig) { r.mustUpload("partner-a", dirBundle(dirDoc)) },
			b: func(t *testing.T) *registry.Bundle {
				return dirBundle(editManifest(t, dirDoc, func(m *protocol.Manifest) { m.Description = "changed" }))
			},
			want: registry.ErrConflict, code: registry.CodeVersionConflict, field: "connector.json#/version", msg: "different content",
		},
		{
			name:  "other partner's id",
			setup: func(r *rig) { r.mustUpload("partner-a", dirBundle(dirDoc)) },
			by:    "partner-b",
			b: func(t *testing.T) *registry.Bundle {
				return dirBundle(dirDoc)
			},
			want: registry.ErrForbidden, code: registry.CodeNotOwner, field: "connector.json#/id", msg: "another partner",
		},
		{
			name: "no partner",
			by:   "-",
			b: func(t *testing.T) *registry.Bundle {
				return dirBundle(dirDoc)
			},
			want: registry.ErrInvalid, code: registry.CodeInvalidArgument, field: "partner", msg: "partner id",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			r := newRig(t)
			if tc.setup != nil {
				tc.setup(r)
			}
			before, _ := r.reg.Connectors(ctx)
			by := tc.by
			switch by {
			case "":
				by = "partner-a"
			case "-":
				by = ""
			}
			_, err := r.upload(by, tc.b(t))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			e := asError(t, err)
			if e.Code != tc.code {
				t.Errorf("code = %q, want %q (%v)", e.Code, tc.code, err)
			}
			if !hasField(e, tc.field, tc.code, tc.msg) {
				t.Errorf("no field error {%s %s ...%s...} in %+v", tc.field, tc.code, tc.msg, e.Errors)
			}
			if tc.n != 0 && len(e.Errors) != tc.n {
				t.Errorf("%d field errors, want %d: %+v", len(e.Errors), tc.n, e.Errors)
			}
			if after, _ := r.reg.Connectors(ctx); len(after) != len(before) {
				t.Errorf("a refused upload stored a connector: %+v", after)
			}
		})
	}
}

// TestConcurrentClaims races two partners for one connector id: one
// owns it, the other is refused, whatever the interleaving.
func TestConcurrentClaims(t *testing.T) {
	r := newRig(t)
	b := &registry.Bundle{Module: build(t, "directory"), Manifest: directoryManifest(t), Runbooks: directoryRunbooks(t)}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, p := range []string{"partner-a", "partner-b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = r.reg.Upload(context.Background(), p, b)
		}()
	}
	wg.Wait()
	ok, forbidden := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, registry.ErrForbidden):
			forbidden++
		default:
			t.Errorf("unexpected error %v", err)
		}
	}
	if ok != 1 || forbidden != 1 {
		t.Fatalf("%d uploads succeeded and %d were forbidden, want 1 and 1: %v", ok, forbidden, errs)
	}
	c, err := r.reg.Connector(context.Background(), "directory")
	if err != nil || (errs[0] == nil) != (c.Owner == "partner-a") {
		t.Errorf("owner = %q (%v), but the uploads returned %v", c.Owner, err, errs)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
