package wasmbuild

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestReadBundleFiles reads connector folders written to t.TempDir():
// the runbooks the manifest names, by the manifest's path, and nothing
// else; a named runbook that is missing or outside the folder fails.
func TestReadBundleFiles(t *testing.T) {
	tests := []struct {
		name     string
		manifest string
		files    map[string]string // beside connector.json
		want     []string          // runbook paths read
		err      error
	}{
		{name: "no runbooks", manifest: `{"id":"x"}`, want: []string{}},
		{
			name:     "named runbooks only",
			manifest: `{"id":"x","runbooks":[{"error_type":"a","path":"runbooks/a.md"},{"error_type":"b","path":"runbooks/b.md"}]}`,
			files:    map[string]string{"runbooks/a.md": "# A\n", "runbooks/b.md": "# B\n", "runbooks/stray.md": "# Stray\n"},
			want:     []string{"runbooks/a.md", "runbooks/b.md"},
		},
		{
			name:     "named runbook missing",
			manifest: `{"id":"x","runbooks":[{"error_type":"a","path":"runbooks/a.md"}]}`,
			err:      fs.ErrNotExist,
		},
		{
			name:     "runbook outside the folder",
			manifest: `{"id":"x","runbooks":[{"error_type":"a","path":"../a.md"}]}`,
			files:    map[string]string{"../a.md": "# A\n"},
			err:      fs.ErrInvalid,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// dir/connector: "../a.md" lands in dir, beside the folder.
			dir := filepath.Join(t.TempDir(), "connector")
			files := map[string]string{"connector.json": tc.manifest}
			maps.Copy(files, tc.files)
			for name, body := range files {
				path := filepath.Join(dir, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			manifest, runbooks, err := ReadBundleFiles(filepath.Join(dir, "connector.json"))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(manifest) != tc.manifest {
				t.Errorf("manifest = %s", manifest)
			}
			if got := slices.Sorted(maps.Keys(runbooks)); !slices.Equal(got, tc.want) {
				t.Fatalf("runbooks = %v, want %v", got, tc.want)
			}
			for _, p := range tc.want {
				if string(runbooks[p]) != files[p] {
					t.Errorf("%s = %q, want %q", p, runbooks[p], files[p])
				}
			}
		})
	}
}

func TestReadBundleFilesErrors(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := ReadBundleFiles(filepath.Join(dir, "connector.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("no manifest: err = %v, want fs.ErrNotExist", err)
	}
	path := filepath.Join(dir, "connector.json")
	if err := os.WriteFile(path, []byte(`{"runbooks":`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadBundleFiles(path); err == nil {
		t.Error("a manifest that is not JSON was read")
	}
}
