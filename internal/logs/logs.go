package logs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// Formats of Options.Format.
const (
	FormatAuto = "auto" // text on a terminal, JSON otherwise
	FormatJSON = "json"
	FormatText = "text"
)

// ComponentKey is the attribute that names a log line's component.
const ComponentKey = "component"

// Options configure New. The zero value logs JSON (or text on a
// terminal) at info level for every component.
type Options struct {
	// Format is FormatAuto (also ""), FormatJSON or FormatText.
	Format string
	// Level is the level of components without their own.
	Level slog.Level
	// Levels overrides Level per component.
	Levels map[string]slog.Level
}

// New returns a logger writing to w.
func New(w io.Writer, o Options) *slog.Logger {
	ho := &slog.HandlerOptions{Level: slog.LevelDebug - 4} // the filter below decides
	var h slog.Handler
	if o.Format == FormatText || ((o.Format == FormatAuto || o.Format == "") && isTerminal(w)) {
		h = slog.NewTextHandler(w, ho)
	} else {
		h = slog.NewJSONHandler(w, ho)
	}
	return slog.New(&filter{inner: h, def: o.Level, levels: o.Levels, level: o.Level})
}

// For returns l for one component: its lines carry the component
// attribute and obey that component's level. A nil l gives a logger that
// discards.
func For(l *slog.Logger, component string) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l.With(ComponentKey, component)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// filter applies the level of the component named by the nearest
// "component" attribute added with WithAttrs.
type filter struct {
	inner  slog.Handler
	def    slog.Level
	levels map[string]slog.Level
	level  slog.Level // the level in force for this handler's component
}

func (f *filter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.level && f.inner.Enabled(ctx, l)
}

func (f *filter) Handle(ctx context.Context, r slog.Record) error { return f.inner.Handle(ctx, r) }

func (f *filter) WithAttrs(as []slog.Attr) slog.Handler {
	g := *f
	g.inner = f.inner.WithAttrs(as)
	for _, a := range as {
		if a.Key != ComponentKey {
			continue
		}
		g.level = f.def
		if l, ok := f.levels[a.Value.String()]; ok {
			g.level = l
		}
	}
	return &g
}

func (f *filter) WithGroup(name string) slog.Handler {
	g := *f
	g.inner = f.inner.WithGroup(name)
	return &g
}

// ParseLevels parses "info" or "warn,engine=debug,api=error": an
// optional default level, then component=level pairs. Levels are debug,
// info, warn and error.
func ParseLevels(spec string) (def slog.Level, per map[string]slog.Level, err error) {
	def = slog.LevelInfo
	per = map[string]slog.Level{}
	for i, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, lvl, hasName := strings.Cut(part, "=")
		if !hasName {
			lvl, name = name, ""
		}
		var l slog.Level
		if err := l.UnmarshalText([]byte(lvl)); err != nil {
			return 0, nil, fmt.Errorf("%w: level %q: want debug, info, warn or error", ErrBadSpec, lvl)
		}
		switch {
		case !hasName && i == 0:
			def = l
		case !hasName:
			return 0, nil, fmt.Errorf("%w: %q: only the first entry may omit component=", ErrBadSpec, part)
		case name == "":
			return 0, nil, fmt.Errorf("%w: %q: empty component", ErrBadSpec, part)
		default:
			per[name] = l
		}
	}
	return def, per, nil
}

// ParseFormat checks a --log-format value.
func ParseFormat(s string) (string, error) {
	switch s {
	case "", FormatAuto, FormatJSON, FormatText:
		return s, nil
	}
	return "", fmt.Errorf("%w: format %q: want auto, json or text", ErrBadSpec, s)
}
