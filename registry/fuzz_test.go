package registry_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/registry"
)

const fuzzBoundary = "fuzz-boundary"

// Fuzz modes: how the fuzzed bytes become a body.
const (
	fuzzTarGz     = iota // the bytes are the body, as application/gzip
	fuzzTar              // the bytes are a tar, gzipped by the harness so mutations reach the tar reader
	fuzzMultipart        // the bytes are a multipart/form-data body
	fuzzModes
)

// FuzzParseBundle feeds arbitrary bodies, as tar.gz, tar or multipart,
// and checks that the parser never panics, refuses with a well-formed
// *registry.Error, and accepts only bundles within every rule.
func FuzzParseBundle(f *testing.F) {
	mod := entry{name: "module.wasm", body: testModule}
	man := entry{name: "connector.json", body: testManifest}
	tars := [][]entry{
		{mod, man},
		{mod, man, {name: "runbooks/a.md", body: "# A\n"}, {name: "./", flag: '5'}},
		{mod, {name: "../connector.json", body: testManifest}},
		{man, {name: "module.wasm", flag: '2', link: "/etc/passwd"}},
		{mod, man, man},
	}
	for _, entries := range tars {
		tgz := tarGz(f, entries...)
		f.Add(tgz, uint8(fuzzTarGz))
		f.Add(gunzip(f, tgz), uint8(fuzzTar))
	}
	f.Add(gzipOf([]byte("junk")), uint8(fuzzTarGz))
	body, _ := multipartBodyWith(f, fuzzBoundary, part{name: "module", body: testModule}, part{name: "connector.json", body: testManifest})
	f.Add(body, uint8(fuzzMultipart))
	body, _ = multipartBodyWith(f, fuzzBoundary, part{name: "runbooks", filename: "../a.md", body: "x"})
	f.Add(body, uint8(fuzzMultipart))

	const max = 1 << 20
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		ctype := "application/gzip"
		switch mode % fuzzModes {
		case fuzzTar:
			data = gzipOf(data)
		case fuzzMultipart:
			ctype = "multipart/form-data; boundary=" + fuzzBoundary
		}
		b, err := registry.ParseBundle(bytes.NewReader(data), ctype, max)
		if err != nil {
			var e *registry.Error
			if !errors.As(err, &e) || len(e.Errors) == 0 || !errors.Is(err, registry.ErrInvalid) || e.Code == "" {
				t.Fatalf("malformed refusal %T %v", err, err)
			}
			return
		}
		total := len(b.Module) + len(b.Manifest)
		if len(b.Module) == 0 || len(b.Manifest) == 0 || len(b.Manifest) > manifest.MaxSize {
			t.Fatalf("accepted a bundle with a %d-byte module and a %d-byte manifest", len(b.Module), len(b.Manifest))
		}
		for p, md := range b.Runbooks {
			name, ok := strings.CutPrefix(p, "runbooks/")
			if !ok || strings.ContainsAny(name, "/\\") || !strings.HasSuffix(name, ".md") || len(md) == 0 || len(md) > registry.MaxRunbookBytes {
				t.Fatalf("accepted runbook %q of %d bytes", p, len(md))
			}
			total += len(md)
		}
		if total > max {
			t.Fatalf("accepted %d bytes of files, the limit is %d", total, max)
		}
		again, err := registry.ParseBundle(bytes.NewReader(data), ctype, max)
		if err != nil || again.Digest() != b.Digest() {
			t.Fatalf("a second parse differs: %v", err)
		}
	})
}

func gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
