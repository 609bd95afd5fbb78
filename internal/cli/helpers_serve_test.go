package cli

import (
	"bytes"
	"context"
	"mime/multipart"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/wasmbuild"
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

// upload posts a connector bundle (multipart) as the admin, for partner p.
func upload(t *testing.T, base, key string, module, manifest []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for name, b := range map[string][]byte{"module.wasm": module, "connector.json": manifest} {
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
