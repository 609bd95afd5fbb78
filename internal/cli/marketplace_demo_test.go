package cli

import (
	"encoding/json"
	"encoding/xml"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServeDemoCertifies: serve --demo submits the example connector in
// the background; the public directory then lists it with a level and
// the badge names that level. Stopping the server mid-submission (the
// other demo tests) is covered by startServe's stop deadline.
func TestServeDemoCertifies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole conformance suite")
	}
	wasm, manifest := directoryBuild(t)
	s := startServe(t, "--data", t.TempDir(), "--demo", "--demo-module", wasm, "--demo-manifest", manifest)
	waitFor(t, s.out, regexp.MustCompile(`(demo ready)`))
	var dir struct {
		Items []struct{ Connector, Version, Level, Report, Badge string }
	}
	deadline := time.Now().Add(3 * time.Minute)
	for len(dir.Items) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the directory never listed the example connector")
		}
		time.Sleep(500 * time.Millisecond)
		code, body := get(t, s.base+"/v1/directory", "")
		if code != 200 {
			t.Fatalf("directory: %d %s", code, body)
		}
		if err := json.Unmarshal([]byte(body), &dir); err != nil {
			t.Fatal(err)
		}
	}
	e := dir.Items[0]
	if e.Connector != "directory" || e.Level == "" || e.Badge != "/badges/directory.svg" {
		t.Fatalf("directory entry %+v", e)
	}
	code, svg := get(t, s.base+e.Badge, "")
	var doc struct {
		XMLName xml.Name
		Texts   []string `xml:"g>text"`
	}
	if err := xml.Unmarshal([]byte(svg), &doc); code != 200 || err != nil || doc.XMLName.Local != "svg" {
		t.Fatalf("badge: %d %v %s", code, err, svg)
	}
	if !strings.Contains(strings.Join(doc.Texts, " "), e.Level) {
		t.Errorf("badge %v does not name %s", doc.Texts, e.Level)
	}
}
