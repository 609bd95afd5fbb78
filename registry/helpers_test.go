package registry_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/internal/wasmbuild"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/store"
)

// t0 is the registry's clock in the tests.
var t0 = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// rig is a registry over a real Badger in a temp dir and a real engine.
type rig struct {
	t   testing.TB
	db  *store.DB
	eng *engine.Engine
	reg *registry.Registry
	now time.Time
}

func newRig(t testing.TB) *rig {
	t.Helper()
	db, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	key, err := receipt.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	root, err := wasmbuild.Root()
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{
		Store:  db,
		Signer: receipt.NewSigner(key),
		// Shared with the engine's tests: compiled code is keyed by
		// module digest, so a warm cache serves every package.
		CacheDir: filepath.Join(root, "build", "test-cache", "wazero"),
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, db: db, eng: eng, now: t0}
	r.reg = r.newRegistry()
	t.Cleanup(func() {
		_ = eng.Close(context.Background())
		_ = db.Close()
	})
	return r
}

// newRegistry returns another Registry over the rig's store and engine,
// as a restarted server would have.
func (r *rig) newRegistry() *registry.Registry {
	reg, err := registry.New(registry.Config{Store: r.db, Engine: r.eng, Now: func() time.Time { return r.now }})
	if err != nil {
		r.t.Fatal(err)
	}
	return reg
}

func (r *rig) upload(partner string, b *registry.Bundle) (registry.Version, error) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return r.reg.Upload(ctx, partner, b)
}

func (r *rig) mustUpload(partner string, b *registry.Bundle) registry.Version {
	r.t.Helper()
	v, err := r.upload(partner, b)
	if err != nil {
		r.t.Fatalf("Upload: %v", err)
	}
	return v
}

var (
	buildMu sync.Mutex
	built   = map[string][]byte{}
)

// build builds a module once per test binary (wasmbuild caches it on
// disk by source hash): "directory" from connectors-wasm, "echo" from
// testdata/echo, or a defect of conformance/testdata.
func build(t testing.TB, name string) []byte {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if b, ok := built[name]; ok {
		return b
	}
	root, err := wasmbuild.Root()
	if err != nil {
		t.Fatal(err)
	}
	moduleDir, pkg := filepath.Join(root, "conformance", "testdata"), "./defects/"+name
	switch name {
	case "directory":
		moduleDir, pkg = filepath.Join(root, "connectors-wasm"), "./directory"
	case "echo":
		moduleDir, pkg = filepath.Join(root, "registry", "testdata", "echo"), "."
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	path, err := wasmbuild.Build(ctx, moduleDir, pkg)
	if err != nil {
		t.Fatalf("build %s: %v", name, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	built[name] = b
	return b
}

// readManifest reads a connector.json of the repository, relative to
// its root.
func readManifest(t testing.TB, rel string) []byte {
	t.Helper()
	root, err := wasmbuild.Root()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func directoryManifest(t testing.TB) []byte {
	return readManifest(t, "connectors-wasm/directory/connector.json")
}

// directoryRunbooks returns the runbooks directoryManifest names, by
// path, read from beside it as a partner packs them.
func directoryRunbooks(t testing.TB) map[string][]byte {
	t.Helper()
	root, err := wasmbuild.Root()
	if err != nil {
		t.Fatal(err)
	}
	_, runbooks, err := wasmbuild.ReadBundleFiles(filepath.Join(root, "connectors-wasm", "directory", "connector.json"))
	if err != nil {
		t.Fatal(err)
	}
	return runbooks
}

// editManifest decodes a manifest, applies edit and encodes it again.
func editManifest(t testing.TB, doc []byte, edit func(*protocol.Manifest)) []byte {
	t.Helper()
	var m protocol.Manifest
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	edit(&m)
	out, err := json.MarshalIndent(&m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// echoPlaceholder is the block testdata/echo embeds (placeholder.txt).
const (
	echoMarker = "SLUICE-REGISTRY-ECHO-PLACEHOLDER"
	echoSize   = 16 << 10
)

// echoBundle returns a bundle of the echo module patched to discover
// exactly doc, with doc as its manifest: a distinct module per manifest.
func echoBundle(t testing.TB, doc []byte) *registry.Bundle {
	t.Helper()
	wasm := bytes.Clone(build(t, "echo"))
	at := bytes.Index(wasm, []byte(echoMarker))
	if at < 0 || bytes.Count(wasm, []byte(echoMarker)) != 1 || at+echoSize > len(wasm) {
		t.Fatal("echo module: placeholder not found exactly once")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, doc); err != nil {
		t.Fatal(err)
	}
	if compact.Len() > echoSize {
		t.Fatalf("manifest of %d bytes does not fit the echo placeholder", compact.Len())
	}
	copy(wasm[at:at+echoSize], append(compact.Bytes(), bytes.Repeat([]byte(" "), echoSize-compact.Len())...))
	return &registry.Bundle{Module: wasm, Manifest: doc}
}

// echoManifest is the directory manifest as connector "echo-dir" at
// version, edited. It names no runbooks: an echo bundle ships none.
func echoManifest(t testing.TB, version string, edit func(*protocol.Manifest)) []byte {
	return editManifest(t, directoryManifest(t), func(m *protocol.Manifest) {
		m.ID, m.Version, m.Name = "echo-dir", version, "Echo of the directory"
		m.Runbooks = nil
		if edit != nil {
			edit(m)
		}
	})
}

// entry is one tar entry.
type entry struct {
	name string
	body string
	flag byte   // 0 is tar.TypeReg
	link string // for links
	size int64  // declared size; 0 means len(body)
}

func tarGz(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.flag, Linkname: e.link, Mode: 0o644, Size: int64(len(e.body)), Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if e.size != 0 {
			h.Size = e.size
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil && !errors.Is(err, tar.ErrWriteTooLong) {
				t.Fatal(err)
			}
		}
	}
	// A header declaring more than was written leaves the archive
	// short; Close reports it, and the short archive is the test.
	_ = tw.Close()
	_ = gz.Close()
	return buf.Bytes()
}

// bundleTarGz packs a bundle as a partner would.
func bundleTarGz(t testing.TB, b *registry.Bundle) []byte {
	t.Helper()
	entries := []entry{{name: "module.wasm", body: string(b.Module)}, {name: "connector.json", body: string(b.Manifest)}}
	for p, md := range b.Runbooks {
		entries = append(entries, entry{name: p, body: string(md)})
	}
	return tarGz(t, entries...)
}

// asError returns err as a *registry.Error, failing the test if it is not.
func asError(t testing.TB, err error) *registry.Error {
	t.Helper()
	var e *registry.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want a *registry.Error", err, err)
	}
	if len(e.Errors) == 0 {
		t.Fatalf("*registry.Error without field errors: %v", e)
	}
	return e
}

// hasField reports whether e names field with code, with a message
// containing msg.
func hasField(e *registry.Error, field, code, msg string) bool {
	for _, fe := range e.Errors {
		if fe.Field == field && fe.Code == code && strings.Contains(fe.Message, msg) {
			return true
		}
	}
	return false
}
