package wasmbuild

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
)

func TestRoot(t *testing.T) {
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"go.work", "guest-sdk/go.mod", "connectors-wasm/go.mod"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("root %s has no %s: %v", root, p, err)
		}
	}
}

func TestRootNotFound(t *testing.T) {
	t.Chdir(t.TempDir())
	if _, err := Root(); !errors.Is(err, ErrNoRoot) {
		t.Fatalf("err = %v, want ErrNoRoot", err)
	}
}

func TestCacheName(t *testing.T) {
	for _, tt := range []struct{ dir, pkg, want string }{
		{"/r/connectors-wasm", "./directory", "directory"},
		{"/r/conformance/testdata", "./defects/endless-loop", "endless-loop"},
		{"/r/mod", ".", "mod"},
		{"/r/mod", "./", "mod"},
	} {
		if got := cacheName(tt.dir, tt.pkg); got != tt.want {
			t.Errorf("cacheName(%q, %q) = %q, want %q", tt.dir, tt.pkg, got, tt.want)
		}
	}
}

func TestSourceDigest(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	digest := func(salt string) string {
		t.Helper()
		d, err := sourceDigest(salt, dir)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	write("go.mod", "module m\n")
	write("main.go", "package main\nfunc main() {}\n")
	base := digest("go1")

	tests := []struct {
		name    string
		edit    func()
		salt    string
		changes bool
	}{
		{"nothing", func() {}, "go1", false},
		{"other go version", func() {}, "go2", true},
		{"test file", func() { write("main_test.go", "package main") }, "go1", false},
		{"testdata", func() { write("testdata/x.go", "package x") }, "go1", false},
		{"hidden and underscore dirs", func() { write(".git/x.go", "x"); write("_old/x.go", "x") }, "go1", false},
		{"embeddable file", func() { write("connector.json", "{}") }, "go1", true},
		{"go.sum", func() { write("go.sum", "x") }, "go1", true},
		{"source edit", func() { write("main.go", "package main\nfunc main() { println() }\n") }, "go1", true},
		{"new package", func() { write("lib/lib.go", "package lib") }, "go1", true},
	}
	prev := base
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.edit()
			got := digest(tt.salt)
			if changed := got != prev; changed != tt.changes {
				t.Fatalf("digest changed = %v, want %v", changed, tt.changes)
			}
			if tt.salt == "go1" {
				prev = got
			}
		})
	}
}

func TestBuildError(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module broken\n\ngo 1.24\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { undefinedThing() }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Build(context.Background(), dir, ".")
	var be *BuildError
	if !errors.As(err, &be) || !strings.Contains(be.Output, "undefinedThing") {
		t.Fatalf("err = %v, want a BuildError quoting the compiler", err)
	}
	root, _ := Root()
	leftovers, _ := filepath.Glob(filepath.Join(root, "build", "wasm-cache", filepath.Base(dir)+"-*"))
	if len(leftovers) != 0 {
		t.Fatalf("failed build left %v in the cache", leftovers)
	}
}

// Imports the engine accepts from a Go guest module.
var allowedExtism = []string{
	"alloc", "free", "length", "length_unsafe", "load_u8", "load_u64", "store_u8", "store_u64",
	"input_length", "input_load_u8", "input_load_u64", "input_offset", "output_set", "error_set",
}

type wasmImport struct{ module, name string }

func importsOf(t *testing.T, path string) []wasmImport {
	t.Helper()
	wasm, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The interpreter compiles in milliseconds; only the import section
	// is of interest here.
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	cm, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatalf("compile %s: %v", path, err)
	}
	var out []wasmImport
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		out = append(out, wasmImport{mod, name})
	}
	return out
}

// disallowed returns the imports outside what the engine accepts.
func disallowed(imports []wasmImport) []wasmImport {
	var bad []wasmImport
	for _, im := range imports {
		switch {
		case im.module == "wasi_snapshot_preview1":
		case im.module == "sluice:host/v1" && slices.Contains([]string{"sluice_http", "sluice_emit", "sluice_log"}, im.name):
		case im.module == "extism:host/env" && (slices.Contains(allowedExtism, im.name) || strings.HasPrefix(im.name, "log_")):
		default:
			bad = append(bad, im)
		}
	}
	return bad
}

func buildRepoModule(t *testing.T, moduleDir, pkg string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	path, err := Build(ctx, moduleDir, pkg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built %s %s in %v: %s", moduleDir, pkg, time.Since(start).Round(time.Millisecond), filepath.Base(path))
	return path
}

func TestBuildDirectoryImports(t *testing.T) {
	path := buildRepoModule(t, "connectors-wasm", "./directory")
	imports := importsOf(t, path)
	if bad := disallowed(imports); len(bad) != 0 {
		t.Fatalf("directory imports what the engine refuses: %v", bad)
	}
	for _, want := range []wasmImport{{"sluice:host/v1", "sluice_http"}, {"sluice:host/v1", "sluice_emit"}, {"sluice:host/v1", "sluice_log"}} {
		if !slices.Contains(imports, want) {
			t.Errorf("directory does not import %v", want)
		}
	}
	for _, im := range imports {
		if im.module == "extism:host/env" && (im.name == "http_request" || im.name == "config_get" || strings.HasPrefix(im.name, "var_")) {
			t.Errorf("directory imports forbidden %v", im)
		}
	}
	t.Logf("imports: %v", imports)

	// A second build is a cache hit: same file, not rewritten.
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	again := buildRepoModule(t, "connectors-wasm", "./directory")
	after, err := os.Stat(again)
	if err != nil {
		t.Fatal(err)
	}
	if again != path || !after.ModTime().Equal(before.ModTime()) || time.Since(start) > 10*time.Second {
		t.Fatalf("second build was not a cache hit: %s (%v) vs %s (%v)", again, after.ModTime(), path, before.ModTime())
	}
}

// TestBuildDefects builds the defect corpus and checks each module's
// imports: forbidden-import carries http_request, every other defect
// imports only what the engine accepts (its defect is in behaviour).
func TestBuildDefects(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every defect module")
	}
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := filepath.Glob(filepath.Join(root, "conformance", "testdata", "defects", "*", "main.go"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no defects found: %v", err)
	}
	for _, main := range dirs {
		name := filepath.Base(filepath.Dir(main))
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			imports := importsOf(t, buildRepoModule(t, filepath.Join("conformance", "testdata"), "./defects/"+name))
			bad := disallowed(imports)
			if name == "forbidden-import" {
				if !slices.Contains(bad, wasmImport{"extism:host/env", "http_request"}) {
					t.Fatalf("forbidden-import does not import http_request: %v", imports)
				}
				return
			}
			if len(bad) != 0 {
				t.Fatalf("%s imports what the engine refuses: %v", name, bad)
			}
		})
	}
}
