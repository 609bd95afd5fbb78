package hostfns

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"strings"
	"sync"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// Limits of the log door.
const (
	// MaxLogLine caps one line (bytes, after scrubbing); longer lines are
	// cut at a UTF-8 boundary and marked truncated=true.
	MaxLogLine = 8 << 10
	// MaxLogLines caps the lines of one invocation; the next line becomes
	// one "log limit reached" warning and the rest are dropped.
	MaxLogLines = 1000
	// maxLogRead caps the raw bytes of a line looked at, so a guest cannot
	// make the host scrub megabytes it will throw away.
	maxLogRead = 64 << 10
)

// Log is the log door (sluice_log) of one invocation: guest lines become
// slog records with the invocation's attributes, scrubbed of every secret
// value before anything is written, and capped.
type Log struct {
	// Recorder, for a tape, gets the SHA-256 (hex) of every line written,
	// as written. Set it before the first Write.
	Recorder func(digest string)

	logger *slog.Logger
	scrub  *Scrubber
	attrs  []slog.Attr

	mu      sync.Mutex
	lines   int
	dropped int
}

// NewLog returns the log door writing to logger (nil discards) with attrs
// (tenant, connection, run…) on every record.
func NewLog(logger *slog.Logger, scrub *Scrubber, attrs ...slog.Attr) *Log {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Log{logger: logger, scrub: scrub, attrs: attrs}
}

// Write writes one guest line at level.
func (l *Log) Write(ctx context.Context, level protocol.LogLevel, msg string) {
	l.mu.Lock()
	n := l.lines
	l.lines++
	if n >= MaxLogLines {
		l.dropped++
	}
	l.mu.Unlock()
	switch {
	case n > MaxLogLines:
		return
	case n == MaxLogLines:
		l.logger.LogAttrs(ctx, slog.LevelWarn, "log limit reached", append(l.attrs[:len(l.attrs):len(l.attrs)],
			slog.String("origin", "guest"), slog.Int("limit", MaxLogLines))...)
		return
	}
	truncated := false
	if len(msg) > maxLogRead {
		msg, truncated = l.scrub.cut(msg, maxLogRead), true
	}
	msg = strings.ToValidUTF8(l.scrub.String(msg), "\uFFFD")
	if len(msg) > MaxLogLine {
		msg, truncated = truncateUTF8(msg, MaxLogLine), true
	}
	attrs := append(l.attrs[:len(l.attrs):len(l.attrs)], slog.String("origin", "guest"))
	if truncated {
		attrs = append(attrs, slog.Bool("truncated", true))
	}
	l.logger.LogAttrs(ctx, slogLevel(level), msg, attrs...)
	if l.Recorder != nil {
		sum := sha256.Sum256([]byte(msg))
		l.Recorder(hex.EncodeToString(sum[:]))
	}
}

// Dropped returns how many lines were dropped past the limit.
func (l *Log) Dropped() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dropped
}

// slogLevel maps a guest level; out-of-range levels are clamped.
func slogLevel(l protocol.LogLevel) slog.Level {
	switch {
	case l <= protocol.LogDebug:
		return slog.LevelDebug
	case l == protocol.LogInfo:
		return slog.LevelInfo
	case l == protocol.LogWarn:
		return slog.LevelWarn
	}
	return slog.LevelError
}
