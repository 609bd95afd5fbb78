package wasmbuild

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// ReadBundleFiles reads what a connector folder contributes to its
// bundle, as a partner packs it beside module.wasm: the connector.json
// at manifestPath, as it is on disk, and every runbook its runbooks
// section names, by the manifest's path ("runbooks/NAME.md"), read from
// the manifest's folder. Markdown in runbooks/ that the manifest does not
// name is left out: the registry refuses an unnamed runbook. A relative
// manifestPath is relative to the working directory, not to Root: the
// demo passes the path its operator typed.
//
// The result fills registry.Bundle's Manifest and Runbooks. This package
// does not build the Bundle itself: importing the registry would bring
// in the engine and the store, and their in-package tests could no
// longer import wasmbuild.
func ReadBundleFiles(manifestPath string) (manifest []byte, runbooks map[string][]byte, err error) {
	manifest, err = os.ReadFile(manifestPath)
	if err != nil {
		return nil, nil, fmt.Errorf("wasmbuild: bundle: %w", err)
	}
	var m struct {
		Runbooks []protocol.Runbook `json:"runbooks"`
	}
	if err := json.Unmarshal(manifest, &m); err != nil {
		return nil, nil, fmt.Errorf("wasmbuild: bundle: %s: %w", manifestPath, err)
	}
	// fs paths have no "..": a manifest cannot name a file outside its
	// folder.
	dir := os.DirFS(filepath.Dir(manifestPath))
	runbooks = make(map[string][]byte, len(m.Runbooks))
	for _, rb := range m.Runbooks {
		md, err := fs.ReadFile(dir, rb.Path)
		if err != nil {
			return nil, nil, fmt.Errorf("wasmbuild: bundle: runbook of error type %q: %w", rb.ErrorType, err)
		}
		runbooks[rb.Path] = md
	}
	return manifest, runbooks, nil
}
