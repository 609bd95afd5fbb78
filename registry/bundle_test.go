package registry_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"mime/multipart"
	"net/textproto"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/registry"
)

const (
	testModule   = "\x00asm\x01\x00\x00\x00"
	testManifest = `{"id":"x"}`
)

func TestParseBundleTarGz(t *testing.T) {
	mod := entry{name: "module.wasm", body: testModule}
	man := entry{name: "connector.json", body: testManifest}
	rb := entry{name: "runbooks/auth_failed.md", body: "# Auth\n"}
	big := strings.Repeat("x", 2000)
	tests := []struct {
		name     string
		body     []byte
		ctype    string
		max      int64
		want     error  // nil: parses
		code     string // a field error's code
		field    string // and its field
		runbooks int
	}{
		{name: "minimal", body: tarGz(t, mod, man)},
		{name: "with runbook", body: tarGz(t, mod, man, rb), runbooks: 1},
		{name: "dot-slash paths and directories", body: tarGz(t,
			entry{name: "./", flag: tar.TypeDir}, entry{name: "./runbooks/", flag: tar.TypeDir},
			entry{name: "./module.wasm", body: testModule}, entry{name: "./connector.json", body: testManifest},
			entry{name: "./runbooks/auth_failed.md", body: "# Auth\n"}), runbooks: 1},
		{name: "octet-stream sniffed", body: tarGz(t, mod, man), ctype: "application/octet-stream"},
		{name: "no content type sniffed", body: tarGz(t, mod, man), ctype: "-"},
		{name: "content type with parameters", body: tarGz(t, mod, man), ctype: "application/x-gzip; charset=binary"},

		{name: "parent traversal", body: tarGz(t, mod, man, entry{name: "../module.wasm", body: "x"}),
			want: registry.ErrBadBundle, code: registry.CodeUnsafePath, field: "../module.wasm"},
		{name: "nested traversal", body: tarGz(t, mod, man, entry{name: "runbooks/../../etc/x.md", body: "x"}),
			want: registry.ErrBadBundle, code: registry.CodeUnsafePath, field: "runbooks/../../etc/x.md"},
		{name: "absolute path", body: tarGz(t, mod, man, entry{name: "/etc/passwd", body: "x"}),
			want: registry.ErrBadBundle, code: registry.CodeUnsafePath, field: "/etc/passwd"},
		{name: "backslash", body: tarGz(t, mod, man, entry{name: `runbooks\x.md`, body: "x"}),
			want: registry.ErrBadBundle, code: registry.CodeUnsafePath, field: `runbooks\x.md`},
		{name: "drive letter", body: tarGz(t, mod, man, entry{name: `C:module.wasm`, body: "x"}),
			want: registry.ErrBadBundle, code: registry.CodeUnsafePath, field: `C:module.wasm`},
		{name: "empty element", body: tarGz(t, mod, man, entry{name: "runbooks//x.md", body: "x"}),
			want: registry.ErrBadBundle, code: registry.CodeUnsafePath, field: "runbooks//x.md"},
		{name: "symlink", body: tarGz(t, man, entry{name: "module.wasm", flag: tar.TypeSymlink, link: "/etc/passwd"}),
			want: registry.ErrBadBundle, code: registry.CodeNotRegularFile, field: "module.wasm"},
		{name: "hard link", body: tarGz(t, mod, man, entry{name: "runbooks/a.md", flag: tar.TypeLink, link: "module.wasm"}),
			want: registry.ErrBadBundle, code: registry.CodeNotRegularFile, field: "runbooks/a.md"},
		{name: "fifo", body: tarGz(t, mod, man, entry{name: "runbooks/a.md", flag: tar.TypeFifo}),
			want: registry.ErrBadBundle, code: registry.CodeNotRegularFile, field: "runbooks/a.md"},
		{name: "duplicate", body: tarGz(t, mod, man, entry{name: "./connector.json", body: `{"id":"y"}`}),
			want: registry.ErrBadBundle, code: registry.CodeDuplicateEntry, field: "connector.json"},
		{name: "unknown file", body: tarGz(t, mod, man, entry{name: "README.md", body: "hi"}),
			want: registry.ErrBadBundle, code: registry.CodeUnknownFile, field: "README.md"},
		{name: "runbook not markdown", body: tarGz(t, mod, man, entry{name: "runbooks/a.txt", body: "hi"}),
			want: registry.ErrBadBundle, code: registry.CodeUnknownFile, field: "runbooks/a.txt"},
		{name: "runbook in a subdirectory", body: tarGz(t, mod, man, entry{name: "runbooks/x/a.md", body: "hi"}),
			want: registry.ErrBadBundle, code: registry.CodeUnknownFile, field: "runbooks/x/a.md"},
		{name: "unknown directory", body: tarGz(t, mod, man, entry{name: "docs/", flag: tar.TypeDir}),
			want: registry.ErrBadBundle, code: registry.CodeUnknownFile, field: "docs/"},
		{name: "missing module", body: tarGz(t, man),
			want: registry.ErrBadBundle, code: registry.CodeMissingFile, field: "module.wasm"},
		{name: "missing manifest", body: tarGz(t, mod),
			want: registry.ErrBadBundle, code: registry.CodeMissingFile, field: "connector.json"},
		{name: "empty module", body: tarGz(t, entry{name: "module.wasm"}, man),
			want: registry.ErrBadBundle, code: registry.CodeEmptyFile, field: "module.wasm"},
		{name: "module over the limit", body: tarGz(t, entry{name: "module.wasm", body: big}, man), max: 1500,
			want: registry.ErrTooLarge, code: registry.CodeTooLarge, field: "module.wasm"},
		{name: "runbook over its limit", body: tarGz(t, mod, man, entry{name: "runbooks/a.md", body: strings.Repeat("#", registry.MaxRunbookBytes+1)}),
			want: registry.ErrTooLarge, code: registry.CodeTooLarge, field: "runbooks/a.md"},
		{name: "files over the limit together", body: tarGz(t, entry{name: "module.wasm", body: big}, entry{name: "connector.json", body: big}), max: 3000,
			want: registry.ErrTooLarge, code: registry.CodeTooLarge, field: "bundle"},
		{name: "body over the limit", body: tarGz(t, mod, man), max: 20,
			want: registry.ErrTooLarge, code: registry.CodeTooLarge, field: "bundle"},
		{name: "too many entries", body: tarGz(t, manyDirs(400)...),
			want: registry.ErrTooLarge, code: registry.CodeTooLarge, field: "bundle"},
		{name: "not gzip", body: []byte("PK\x03\x04 a zip file"),
			want: registry.ErrBadBundle, code: registry.CodeMalformedBundle, field: "bundle"},
		{name: "not gzip, sniffed", body: []byte("PK\x03\x04 a zip file"), ctype: "-",
			want: registry.ErrBadBundle, code: registry.CodeMalformedBundle, field: "bundle"},
		{name: "empty body", body: nil,
			want: registry.ErrBadBundle, code: registry.CodeMalformedBundle, field: "bundle"},
		{name: "gzip but not tar", body: gzipOf([]byte(strings.Repeat("not a tar header ", 64))),
			want: registry.ErrBadBundle, code: registry.CodeMalformedBundle, field: "bundle"},
		{name: "truncated", body: tarGz(t, mod, man)[:40],
			want: registry.ErrBadBundle, code: registry.CodeMalformedBundle, field: "bundle"},
		{name: "entry shorter than declared", body: tarGz(t, entry{name: "module.wasm", body: testModule, size: 4096}),
			want: registry.ErrBadBundle, code: registry.CodeMalformedBundle, field: "bundle"},
		{name: "corrupt checksum", body: corruptTrailer(tarGz(t, mod, man)),
			want: registry.ErrBadBundle, code: registry.CodeMalformedBundle, field: "bundle"},
		{name: "unsupported media type", body: tarGz(t, mod, man), ctype: "application/json",
			want: registry.ErrUnsupportedMediaType, code: registry.CodeUnsupportedMedia, field: "Content-Type"},
		{name: "malformed media type", body: tarGz(t, mod, man), ctype: "application/gzip; =",
			want: registry.ErrUnsupportedMediaType, code: registry.CodeUnsupportedMedia, field: "Content-Type"},
		{name: "multipart without boundary", body: tarGz(t, mod, man), ctype: "multipart/form-data",
			want: registry.ErrUnsupportedMediaType, code: registry.CodeUnsupportedMedia, field: "Content-Type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctype := tc.ctype
			switch ctype {
			case "":
				ctype = "application/gzip"
			case "-":
				ctype = ""
			}
			b, err := registry.ParseBundle(bytes.NewReader(tc.body), ctype, tc.max)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("ParseBundle: %v", err)
				}
				if string(b.Module) != testModule || string(b.Manifest) != testManifest || len(b.Runbooks) != tc.runbooks {
					t.Fatalf("bundle = %q, %q, %d runbooks", b.Module, b.Manifest, len(b.Runbooks))
				}
				return
			}
			if !errors.Is(err, tc.want) || !errors.Is(err, registry.ErrInvalid) {
				t.Fatalf("err = %v, want %v (and ErrInvalid)", err, tc.want)
			}
			if e := asError(t, err); !hasField(e, tc.field, tc.code, "") {
				t.Errorf("no field error {%s %s} in %+v", tc.field, tc.code, e.Errors)
			}
		})
	}
}

func manyDirs(n int) []entry {
	out := make([]entry, n)
	for i := range out {
		out[i] = entry{name: "runbooks/", flag: tar.TypeDir}
	}
	return out
}

func gzipOf(b []byte) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	_, _ = gz.Write(b)
	_ = gz.Close()
	return buf.Bytes()
}

// corruptTrailer flips the gzip CRC: the damage lies after the last tar
// entry, where only reading to the end finds it.
func corruptTrailer(b []byte) []byte {
	b = bytes.Clone(b)
	b[len(b)-8] ^= 0xff
	return b
}

type part struct {
	name, filename, body string
}

func multipartBody(t testing.TB, parts ...part) ([]byte, string) {
	return multipartBodyWith(t, "", parts...)
}

// multipartBodyWith encodes parts with the given boundary (a random one
// if empty) and returns the body and its Content-Type.
func multipartBodyWith(t testing.TB, boundary string, parts ...part) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if boundary != "" {
		if err := w.SetBoundary(boundary); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		disp := "form-data"
		if p.name != "" {
			disp += `; name="` + p.name + `"`
		}
		if p.filename != "" {
			disp += `; filename="` + p.filename + `"`
		}
		h.Set("Content-Disposition", disp)
		h.Set("Content-Type", "application/octet-stream")
		pw, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = pw.Write([]byte(p.body))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), w.FormDataContentType()
}

func TestParseBundleMultipart(t *testing.T) {
	mod := part{name: "module.wasm", filename: "directory.wasm", body: testModule}
	man := part{name: "connector.json", body: testManifest}
	tests := []struct {
		name     string
		parts    []part
		max      int64
		want     error
		code     string
		field    string
		runbooks []string
	}{
		{name: "by path", parts: []part{mod, man, {name: "runbooks/auth_failed.md", body: "# Auth\n"}}, runbooks: []string{"runbooks/auth_failed.md"}},
		{name: "aliases and runbook file names", parts: []part{
			{name: "module", body: testModule}, {name: "manifest", body: testManifest},
			{name: "runbooks", filename: "auth_failed.md", body: "# A\n"}, {name: "runbooks", filename: "../../rate_limited.md", body: "# R\n"},
		}, runbooks: []string{"runbooks/auth_failed.md", "runbooks/rate_limited.md"}},
		{name: "unknown part", parts: []part{mod, man, {name: "notes.txt", body: "x"}},
			want: registry.ErrBadBundle, code: registry.CodeUnknownFile, field: "notes.txt"},
		{name: "traversal in a form name", parts: []part{mod, man, {name: "runbooks/../../x.md", body: "x"}},
			want: registry.ErrBadBundle, code: registry.CodeUnsafePath, field: "runbooks/../../x.md"},
		{name: "part without a name", parts: []part{mod, man, {filename: "x.md", body: "x"}},
			want: registry.ErrBadBundle, code: registry.CodeUnknownFile, field: "bundle/part[2]"},
		{name: "duplicate", parts: []part{mod, man, {name: "module", body: testModule}},
			want: registry.ErrBadBundle, code: registry.CodeDuplicateEntry, field: "module.wasm"},
		{name: "missing manifest", parts: []part{mod},
			want: registry.ErrBadBundle, code: registry.CodeMissingFile, field: "connector.json"},
		{name: "over the limit", parts: []part{mod, man, {name: "runbooks/a.md", body: strings.Repeat("#", 4096)}}, max: 1024,
			want: registry.ErrTooLarge, code: registry.CodeTooLarge, field: "bundle"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, ctype := multipartBody(t, tc.parts...)
			b, err := registry.ParseBundle(bytes.NewReader(body), ctype, tc.max)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("ParseBundle: %v", err)
				}
				if string(b.Module) != testModule || string(b.Manifest) != testManifest || len(b.Runbooks) != len(tc.runbooks) {
					t.Fatalf("bundle = %q, %q, %v", b.Module, b.Manifest, b.Runbooks)
				}
				for _, p := range tc.runbooks {
					if _, ok := b.Runbooks[p]; !ok {
						t.Errorf("no runbook %s in %v", p, b.Runbooks)
					}
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if e := asError(t, err); !hasField(e, tc.field, tc.code, "") {
				t.Errorf("no field error {%s %s} in %+v", tc.field, tc.code, e.Errors)
			}
		})
	}
}

// TestBundleDigest: the digest is the files', not the packing's.
func TestBundleDigest(t *testing.T) {
	files := []entry{{name: "module.wasm", body: testModule}, {name: "connector.json", body: testManifest}, {name: "runbooks/a.md", body: "# A\n"}}
	fromTar, err := registry.ParseBundle(bytes.NewReader(tarGz(t, files...)), "application/gzip", 0)
	if err != nil {
		t.Fatal(err)
	}
	reordered, err := registry.ParseBundle(bytes.NewReader(tarGz(t, files[2], files[1], files[0])), "application/gzip", 0)
	if err != nil {
		t.Fatal(err)
	}
	body, ctype := multipartBody(t, part{name: "module", body: testModule}, part{name: "manifest", body: testManifest}, part{name: "runbooks/a.md", body: "# A\n"})
	fromMultipart, err := registry.ParseBundle(bytes.NewReader(body), ctype, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fromTar.Digest() != reordered.Digest() || fromTar.Digest() != fromMultipart.Digest() {
		t.Errorf("digests differ by packing: %s %s %s", fromTar.Digest(), reordered.Digest(), fromMultipart.Digest())
	}
	changed := *fromTar
	changed.Runbooks = map[string][]byte{"runbooks/a.md": []byte("# B\n")}
	if changed.Digest() == fromTar.Digest() {
		t.Error("a changed runbook keeps the digest")
	}
	renamed := *fromTar
	renamed.Runbooks = map[string][]byte{"runbooks/b.md": []byte("# A\n")}
	if renamed.Digest() == fromTar.Digest() {
		t.Error("a renamed runbook keeps the digest")
	}
}
