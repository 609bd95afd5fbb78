// Package wasmbuild builds Go guest modules (connectors and the defect
// corpus) into WebAssembly for tests and benchmarks, the way a partner
// builds them:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath
//
// Builds are cached under <repo>/build/wasm-cache, keyed by a digest of
// the package path, the Go version and every file that can go into the
// module (Go sources, go.mod, go.sum, embeddable files; not _test.go)
// of the module and of guest-sdk, so a test binary rebuilds a module only when something
// that goes into it changed. A build is written to a temporary file and
// renamed into place, so test binaries that build the same module at the
// same time never see a partial file.
//
// [ReadBundleFiles] reads the rest of a connector's bundle from its
// folder: connector.json and the runbooks it names. Tests that upload an
// example connector and `sluice serve --demo` use it, so every upload
// carries the runbooks the manifest promises.
//
// Checking a module's imports is the engine's job, not this package's.
package wasmbuild
