package cli

import (
	"bytes"
	"context"
	"maps"
	"mime/multipart"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/wasmbuild"
	"github.com/sluicehq/sluice/registry"
)

// directoryBuild builds the example connector (cached on disk) and
// returns its module path and its manifest path.
func directoryBuild(t *testing.T) (modulePath, manifestPath string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	wasm, err := wasmbuild.Build(ctx, "connectors-wasm", "./directory")
	if err != nil {
		t.Fatal(err)
	}
	root, err := wasmbuild.Root()
	if err != nil {
		t.Fatal(err)
	}
	return wasm, filepath.Join(root, "connectors-wasm", "directory", "connector.json")
}

// readFile reads a file or fails the test.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readBundle reads the bundle of the connector built at modulePath with
// its connector.json at manifestPath: the runbooks the manifest names
// come from beside it.
func readBundle(t *testing.T, modulePath, manifestPath string) *registry.Bundle {
	t.Helper()
	mf, runbooks, err := wasmbuild.ReadBundleFiles(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	return &registry.Bundle{Module: readFile(t, modulePath), Manifest: mf, Runbooks: runbooks}
}

// upload posts a connector bundle (multipart) as the admin, for partner p.
func upload(t *testing.T, base, key string, bundle *registry.Bundle) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	files := map[string][]byte{"module.wasm": bundle.Module, "connector.json": bundle.Manifest}
	maps.Copy(files, bundle.Runbooks) // a runbook's part is named by its path
	for name, b := range files {
		part, _ := mw.CreateFormFile(name, name)
		_, _ = part.Write(b)
	}
	_ = mw.Close()
	if code, b := call(t, "POST", base+"/v1/connectors?partner=p", key, mw.FormDataContentType(), buf.Bytes()); code != 201 && code != 200 {
		t.Fatalf("upload: %d %s", code, b)
	}
}

// adminKey reads the key serve wrote with --admin-key-file.
func adminKey(t *testing.T, file string) string {
	t.Helper()
	return strings.TrimSpace(string(readFile(t, file)))
}
