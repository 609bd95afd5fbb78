package marketplace_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance"
	"github.com/sluicehq/sluice/conformance/report"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/internal/wasmbuild"
	"github.com/sluicehq/sluice/marketplace"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/store"
)

// directory builds the directory connector once per test binary
// (wasmbuild caches it on disk by source hash) and reads its manifest
// and runbooks: its bundle, which callers must not modify.
var directory = sync.OnceValues(func() (*registry.Bundle, error) {
	root, err := wasmbuild.Root()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	path, err := wasmbuild.Build(ctx, filepath.Join(root, "connectors-wasm"), "./directory")
	if err != nil {
		return nil, err
	}
	wasm, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	mf, runbooks, err := wasmbuild.ReadBundleFiles(filepath.Join(root, "connectors-wasm", "directory", "connector.json"))
	return &registry.Bundle{Module: wasm, Manifest: mf, Runbooks: runbooks}, err
})

// rig is a registry over real Badger and a real engine, holding the
// directory connector 1.0.0 of partner p1 (manifest changed by edit, if
// given), and a marketplace service over it.
type rig struct {
	db  *store.DB
	reg *registry.Registry
	svc *marketplace.Service
}

func newRig(t *testing.T, edit func(*protocol.Manifest), opts ...conformance.Option) *rig {
	t.Helper()
	built, err := directory()
	if err != nil {
		t.Fatalf("build the directory connector: %v", err)
	}
	db, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	key, err := receipt.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := wasmbuild.Root()
	cache := filepath.Join(root, "build", "test-cache", "wazero")
	eng, err := engine.New(engine.Config{Store: db, Signer: receipt.NewSigner(key), CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = eng.Close(context.Background())
		_ = db.Close()
	})
	reg, err := registry.New(registry.Config{Store: db, Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	mf := built.Manifest
	if edit != nil {
		var m protocol.Manifest
		if err := json.Unmarshal(mf, &m); err != nil {
			t.Fatal(err)
		}
		edit(&m)
		if mf, err = json.Marshal(m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := reg.Upload(t.Context(), "p1", &registry.Bundle{Module: built.Module, Manifest: mf, Runbooks: built.Runbooks}); err != nil {
		t.Fatalf("upload: %v", err)
	}
	svc, err := marketplace.New(marketplace.Config{Store: db, Registry: reg,
		Options: append([]conformance.Option{conformance.WithCacheDir(cache)}, opts...)})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{db: db, reg: reg, svc: svc}
}

// staticOnly runs the static review alone: fast, and enough to show what
// a static rule does to the level.
var staticOnly = conformance.WithOnly("static.manifest", "static.imports", "static.scope-reasons", "static.hosts")

// TestSubmitDirectory certifies the directory example with the whole
// suite against an in-process sandbox: the level set is the report's,
// at least Silver, and the directory lists it with its report.
func TestSubmitDirectory(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole conformance suite")
	}
	r := newRig(t, nil)
	ctx := t.Context()
	if _, err := r.svc.Report(ctx, "directory", "1.0.0"); !errors.Is(err, marketplace.ErrNotFound) {
		t.Fatalf("report before submission: %v, want ErrNotFound", err)
	}
	if got, err := r.svc.Badge(ctx, "directory"); err != nil || got != marketplace.Uncertified {
		t.Fatalf("badge before submission: %q, %v", got, err)
	}
	sub, err := r.svc.Submit(ctx, marketplace.Request{Connector: "directory", Version: "1.0.0", Partner: "p1", By: "key-p1"})
	if err != nil {
		t.Fatal(err)
	}
	body, err := r.svc.Report(ctx, "directory", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := report.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	if sub.Level != rep.Reached.String() || rep.Reached < conformance.Silver {
		t.Fatalf("submission level %s, report reached %s; want the report's, at least silver (failed %v, skipped %v)",
			sub.Level, rep.Reached, sub.Failed, sub.Skipped)
	}
	for _, id := range []string{"static.imports", "static.scope-reasons", "static.hosts"} {
		if res, ok := rep.Result(id); !ok || res.Status != conformance.Pass {
			t.Errorf("%s: %+v, want pass", id, res)
		}
	}
	v, err := r.reg.Version(ctx, "directory", "1.0.0")
	if err != nil || v.Certification != sub.Level {
		t.Errorf("version certification %q (%v), want %s", v.Certification, err, sub.Level)
	}
	entries, err := r.svc.Directory(ctx)
	if err != nil || len(entries) != 1 {
		t.Fatalf("directory = %+v, %v", entries, err)
	}
	if e := entries[0]; e.Connector != "directory" || e.Version != "1.0.0" || e.Level != sub.Level ||
		e.Report != "/v1/connectors/directory/versions/1.0.0/report" || e.Badge != "/badges/directory.svg" {
		t.Errorf("entry = %+v", e)
	}
	if got, err := r.svc.Badge(ctx, "directory"); err != nil || got != sub.Level {
		t.Errorf("badge = %q, %v; want %s", got, err, sub.Level)
	}
}

// TestSubmitStaticRule: a manifest whose host rule is plain http to a
// public host passes upload but fails static.hosts, so the version does
// not reach Gold, and the failing check is named.
func TestSubmitStaticRule(t *testing.T) {
	clean := newRig(t, nil, staticOnly)
	sub, err := clean.svc.Submit(t.Context(), marketplace.Request{Connector: "directory", Version: "1.0.0", By: "admin"})
	if err != nil || sub.Level != "gold" || len(sub.Failed) != 0 {
		t.Fatalf("clean static review: %+v, %v; want gold", sub, err)
	}
	r := newRig(t, func(m *protocol.Manifest) {
		m.Hosts = append(m.Hosts, protocol.HostRule{Host: "api.example.com", Scheme: "http", Methods: []string{"GET"}})
	}, staticOnly)
	sub, err = r.svc.Submit(t.Context(), marketplace.Request{Connector: "directory", Version: "1.0.0", Partner: "p1", By: "key-p1"})
	if err != nil {
		t.Fatal(err)
	}
	if sub.Level != "silver" || !slices.Equal(sub.Failed, []string{"static.hosts"}) {
		t.Fatalf("submission = %+v; want silver, failed [static.hosts]", sub)
	}
	body, _ := r.svc.Report(t.Context(), "directory", "1.0.0")
	rep, err := report.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	res, _ := rep.Result("static.hosts")
	if res.Status != conformance.Fail || !strings.Contains(res.Reason, "api.example.com") {
		t.Errorf("static.hosts = %+v, want a failure naming the host", res)
	}
	if v, _ := r.reg.Version(t.Context(), "directory", "1.0.0"); v.Certification != "silver" {
		t.Errorf("version certification %q, want silver", v.Certification)
	}
}

func TestSubmitRefusals(t *testing.T) {
	r := newRig(t, nil, staticOnly)
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		req  marketplace.Request
		want error
	}{
		{"another partner", marketplace.Request{Connector: "directory", Version: "1.0.0", Partner: "p2", By: "k"}, marketplace.ErrForbidden},
		{"unknown connector", marketplace.Request{Connector: "nope", Version: "1.0.0", By: "k"}, marketplace.ErrNotFound},
		{"unknown version", marketplace.Request{Connector: "directory", Version: "2.0.0", By: "k"}, marketplace.ErrNotFound},
		{"bad id", marketplace.Request{Connector: "Bad!", Version: "1.0.0", By: "k"}, marketplace.ErrInvalid},
		{"bad version", marketplace.Request{Connector: "directory", Version: "v1", By: "k"}, marketplace.ErrInvalid},
	} {
		if _, err := r.svc.Submit(ctx, tc.req); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := r.svc.Report(ctx, "directory", "1.0.0"); !errors.Is(err, marketplace.ErrNotFound) {
		t.Errorf("a refused submission stored a report: %v", err)
	}
	if _, err := r.svc.Badge(ctx, "nope"); !errors.Is(err, marketplace.ErrNotFound) {
		t.Errorf("badge of an unknown connector: %v, want ErrNotFound", err)
	}
}

// TestSubmitTimeout: a submission cut short by the timeout stores nothing.
func TestSubmitTimeout(t *testing.T) {
	r := newRig(t, nil)
	svc, err := marketplace.New(marketplace.Config{Store: r.db, Registry: r.reg, Timeout: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Submit(t.Context(), marketplace.Request{Connector: "directory", Version: "1.0.0", By: "k"}); !errors.Is(err, marketplace.ErrTimeout) {
		t.Fatalf("Submit = %v, want ErrTimeout", err)
	}
	if _, err := svc.Report(t.Context(), "directory", "1.0.0"); !errors.Is(err, marketplace.ErrNotFound) {
		t.Errorf("a timed-out submission stored a report: %v", err)
	}
}

func TestRenderBadge(t *testing.T) {
	for _, level := range []string{"bronze", "silver", "gold", marketplace.Uncertified} {
		svg := marketplace.RenderBadge("directory", level)
		var doc struct {
			XMLName xml.Name
			Title   string   `xml:"title"`
			Texts   []string `xml:"g>text"`
		}
		if err := xml.Unmarshal(svg, &doc); err != nil {
			t.Fatalf("%s: not XML: %v\n%s", level, err, svg)
		}
		if doc.XMLName.Local != "svg" || doc.XMLName.Space != "http://www.w3.org/2000/svg" {
			t.Errorf("%s: root %v, want svg in the SVG namespace", level, doc.XMLName)
		}
		if !slices.Contains(doc.Texts, level) || !strings.Contains(doc.Title, level) {
			t.Errorf("%s: badge texts %v, title %q do not name the level", level, doc.Texts, doc.Title)
		}
	}
	// Text is escaped, whatever it holds.
	if err := xml.Unmarshal(marketplace.RenderBadge(`a<b&"c`, "gold"), new(struct{})); err != nil {
		t.Errorf("escaping: %v", err)
	}
}
