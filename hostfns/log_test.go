package hostfns

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

func jsonLogger() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestLogScrubsAndTags(t *testing.T) {
	logger, buf := jsonLogger()
	var digests []string
	l := NewLog(logger, NewScrubber(apiKey), slog.String("tenant", "t1"), slog.String("run", "r1"))
	l.Recorder = func(d string) { digests = append(digests, d) }
	ctx := context.Background()
	l.Write(ctx, protocol.LogWarn, "calling with "+apiKey)
	l.Write(ctx, protocol.LogLevel(99), "clamped")
	l.Write(ctx, protocol.LogLevel(-3), "clamped too")
	lines := logLines(t, buf)
	if len(lines) != 3 || len(digests) != 3 {
		t.Fatalf("%d lines, %d digests", len(lines), len(digests))
	}
	first := lines[0]
	if first["msg"] != "calling with [REDACTED]" || first["level"] != "WARN" || first["tenant"] != "t1" || first["run"] != "r1" || first["origin"] != "guest" {
		t.Fatalf("line %v", first)
	}
	if lines[1]["level"] != "ERROR" || lines[2]["level"] != "DEBUG" {
		t.Fatalf("levels %v %v", lines[1]["level"], lines[2]["level"])
	}
	if strings.Contains(buf.String(), apiKey) {
		t.Fatal("the secret reached the log")
	}
}

func TestLogCaps(t *testing.T) {
	logger, buf := jsonLogger()
	l := NewLog(logger, NewScrubber(apiKey))
	ctx := context.Background()
	long := strings.Repeat("é", MaxLogLine) // 2 bytes each
	l.Write(ctx, protocol.LogInfo, long)
	// A long secret repeated past the read cap: scrubbing shrinks each
	// copy to 10 bytes, so the copy the cap cuts in half would land well
	// inside the line if the cut did not drop it.
	var sb strings.Builder
	for i := 0; sb.Len() < 1000; i++ {
		sb.WriteString(strconv.Itoa(i * 7919))
	}
	longSecret := sb.String()
	l.scrub.Add(longSecret)
	l.Write(ctx, protocol.LogInfo, strings.Repeat(longSecret, maxLogRead/len(longSecret)+2))
	for range MaxLogLines + 10 {
		l.Write(ctx, protocol.LogInfo, "spam")
	}
	lines := logLines(t, buf)
	if len(lines) != MaxLogLines+1 {
		t.Fatalf("%d lines, want %d (limit plus the notice)", len(lines), MaxLogLines+1)
	}
	msg := lines[0]["msg"].(string)
	if len(msg) > MaxLogLine || !strings.HasPrefix(long, msg) || lines[0]["truncated"] != true {
		t.Fatalf("first line: %d bytes, truncated=%v", len(msg), lines[0]["truncated"])
	}
	if second := lines[1]["msg"].(string); !strings.HasPrefix(second, "[REDACTED]") || strings.Contains(second, longSecret[:20]) {
		t.Fatalf("second line leaks part of the secret: …%s", second[max(0, len(second)-80):])
	}
	last := lines[len(lines)-1]
	if last["msg"] != "log limit reached" || last["level"] != "WARN" {
		t.Fatalf("last line %v", last)
	}
	if l.Dropped() != 12 { // 1,012 lines: 1,000 written, the notice, 11 more
		t.Fatalf("Dropped = %d", l.Dropped())
	}
}

func TestLogNilLogger(t *testing.T) {
	NewLog(nil, nil).Write(context.Background(), protocol.LogInfo, "to nowhere") // no panic
}
