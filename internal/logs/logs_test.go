package logs_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/logs"
)

func TestLevelsPerComponent(t *testing.T) {
	def, per, err := logs.ParseLevels("warn,engine=debug")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	l := logs.New(&buf, logs.Options{Format: logs.FormatJSON, Level: def, Levels: per})
	eng, api := logs.For(l, "engine"), logs.For(l, "api")
	eng.Debug("engine detail", "run", "r1")
	api.Info("api chatter")
	api.Warn("api warning")
	l.Info("root chatter")
	var lines []map[string]any
	for _, s := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatalf("not JSON: %q", s)
		}
		lines = append(lines, m)
	}
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want engine debug and api warning: %s", len(lines), buf.String())
	}
	if lines[0]["component"] != "engine" || lines[0]["msg"] != "engine detail" || lines[0]["run"] != "r1" {
		t.Errorf("line 0: %v", lines[0])
	}
	if lines[1]["component"] != "api" || lines[1]["level"] != "WARN" {
		t.Errorf("line 1: %v", lines[1])
	}
}

func TestFormats(t *testing.T) {
	var buf bytes.Buffer
	logs.New(&buf, logs.Options{Format: logs.FormatText}).Info("hello", "k", "v")
	if !strings.Contains(buf.String(), "msg=hello k=v") {
		t.Errorf("text: %q", buf.String())
	}
	buf.Reset()
	// Not a terminal: auto means JSON.
	logs.New(&buf, logs.Options{}).Info("hello")
	if !json.Valid(buf.Bytes()) {
		t.Errorf("auto on a buffer: %q", buf.String())
	}
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	logs.New(f, logs.Options{Format: logs.FormatAuto}).Info("to a file")
	b, _ := os.ReadFile(f.Name())
	if !json.Valid(bytes.TrimSpace(b)) {
		t.Errorf("auto on a regular file: %q", b)
	}
}

func TestParseErrors(t *testing.T) {
	for _, spec := range []string{"loud", "engine=loud", "info,debug", "=debug"} {
		if _, _, err := logs.ParseLevels(spec); !errors.Is(err, logs.ErrBadSpec) {
			t.Errorf("ParseLevels(%q) = %v, want ErrBadSpec", spec, err)
		}
	}
	if _, err := logs.ParseFormat("xml"); !errors.Is(err, logs.ErrBadSpec) {
		t.Errorf("ParseFormat(xml) = %v", err)
	}
	if d, per, err := logs.ParseLevels(""); err != nil || d != slog.LevelInfo || len(per) != 0 {
		t.Errorf("empty spec: %v %v %v", d, per, err)
	}
}

func ExampleParseLevels() {
	def, per, _ := logs.ParseLevels("warn,engine=debug")
	var buf bytes.Buffer
	l := logs.New(&buf, logs.Options{Format: logs.FormatText, Level: def, Levels: per})
	logs.For(l, "api").Info("dropped: api logs at warn")
	logs.For(l, "engine").Debug("kept")
	_, msg, _ := strings.Cut(buf.String(), "level=DEBUG ")
	os.Stdout.WriteString(msg)
	// Output: msg=kept component=engine
}
