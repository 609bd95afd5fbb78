package registry_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/registry"
)

// ExampleParseBundle reads a tar.gz upload, then shows what an API
// makes of a refused one: the sentinel picks the status, the field
// errors name each offending file.
func ExampleParseBundle() {
	pack := func(files map[string]string, order ...string) []byte {
		var buf bytes.Buffer
		gz := gzip.NewWriter(&buf)
		tw := tar.NewWriter(gz)
		for _, name := range order {
			_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name]))})
			_, _ = tw.Write([]byte(files[name]))
		}
		_ = tw.Close()
		_ = gz.Close()
		return buf.Bytes()
	}
	files := map[string]string{
		"module.wasm":             "\x00asm\x01\x00\x00\x00",
		"connector.json":          `{"id":"directory","version":"1.0.0"}`,
		"runbooks/auth_failed.md": "# Authentication failed\n",
		"../../etc/cron.d/x":      "* * * * * root sh",
	}

	b, err := registry.ParseBundle(bytes.NewReader(pack(files, "module.wasm", "connector.json", "runbooks/auth_failed.md")), "application/gzip", 0)
	if err != nil {
		panic(err)
	}
	fmt.Printf("module: %d bytes, manifest: %s, runbooks: %d\n", len(b.Module), b.Manifest, len(b.Runbooks))

	_, err = registry.ParseBundle(bytes.NewReader(pack(files, "connector.json", "../../etc/cron.d/x")), "application/gzip", 0)
	var e *registry.Error
	if errors.As(err, &e) {
		fmt.Println("bad bundle (400):", errors.Is(err, registry.ErrBadBundle), e.Code)
		for _, fe := range e.Errors {
			fmt.Printf("  %s [%s] %s\n", fe.Field, fe.Code, fe.Message)
		}
	}
	// Output:
	// module: 8 bytes, manifest: {"id":"directory","version":"1.0.0"}, runbooks: 1
	// bad bundle (400): true malformed_bundle
	//   ../../etc/cron.d/x [unsafe_path] unsafe path "../../etc/cron.d/x": ".." is not allowed
	//   module.wasm [missing_file] the bundle has no module.wasm
}
