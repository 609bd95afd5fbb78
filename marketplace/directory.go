package marketplace

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"time"

	"github.com/Masterminds/semver/v3"
)

// Uncertified is the badge text of a connector with no certified version.
const Uncertified = "uncertified"

// Entry is one certified connector of the directory.
type Entry struct {
	Connector string `json:"connector"`
	// Version is the highest version (semver) that reached a level.
	Version     string    `json:"version"`
	Level       string    `json:"level"`
	CertifiedAt time.Time `json:"certified_at"`
	Report      string    `json:"report"` // API path of the report
	Badge       string    `json:"badge"`  // API path of the badge
}

// Directory lists every certified connector in id order: per connector,
// its highest version whose certification reached a level.
func (s *Service) Directory(ctx context.Context) ([]Entry, error) {
	certs, err := s.p.Certifications(ctx)
	if err != nil {
		return nil, fmt.Errorf("marketplace: list certifications: %w", err)
	}
	var out []Entry
	best := map[string]int{} // connector → index in out
	for _, c := range certs {
		if c.Level == "none" {
			continue
		}
		e := Entry{Connector: c.Connector, Version: c.Version, Level: c.Level, CertifiedAt: c.FinishedAt,
			Report: ReportPath(c.Connector, c.Version), Badge: BadgePath(c.Connector)}
		i, ok := best[c.Connector]
		switch {
		case !ok:
			best[c.Connector] = len(out)
			out = append(out, e)
		case newer(c.Version, out[i].Version):
			out[i] = e
		}
	}
	if out == nil {
		out = []Entry{}
	}
	return out, nil // records are in key order: connector ids sorted
}

// newer reports whether version a is higher than b by semver precedence.
func newer(a, b string) bool {
	va, errA := semver.StrictNewVersion(a)
	vb, errB := semver.StrictNewVersion(b)
	if errA != nil || errB != nil {
		return a > b
	}
	return va.GreaterThan(vb)
}

// Badge returns the level a connector's badge names: the level of its
// highest certified version, or Uncertified. An unknown connector is
// ErrNotFound.
func (s *Service) Badge(ctx context.Context, connector string) (string, error) {
	if _, err := s.cfg.Registry.Connector(ctx, connector); err != nil {
		return "", registryErr(err, "connector", "no connector %q", connector)
	}
	entries, err := s.Directory(ctx)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if e.Connector == connector {
			return e.Level, nil
		}
	}
	return Uncertified, nil
}

var badgeColors = map[string]string{"bronze": "#a97142", "silver": "#8a8d91", "gold": "#c9a227"}

// RenderBadge draws a flat two-part badge, "sluice | {level}", as SVG.
// Text is XML-escaped; widths are estimated (7 px a character), which is
// what badge services do without a font.
func RenderBadge(connector, level string) []byte {
	color, ok := badgeColors[level]
	if !ok {
		color = "#9f9f9f"
	}
	const label = "sluice"
	lw, rw := 10+7*len(label), 10+7*len(level)
	var b bytes.Buffer
	esc := func(s string) string {
		var e bytes.Buffer
		_ = xml.EscapeText(&e, []byte(s))
		return e.String()
	}
	title := esc(connector + ": " + level)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="20" role="img" aria-label="%s">`, lw+rw, title)
	fmt.Fprintf(&b, `<title>%s</title>`, title)
	fmt.Fprintf(&b, `<rect width="%d" height="20" fill="#555"/><rect x="%d" width="%d" height="20" fill="%s"/>`, lw, lw, rw, color)
	fmt.Fprintf(&b, `<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">`)
	fmt.Fprintf(&b, `<text x="%d" y="14">%s</text><text x="%d" y="14">%s</text></g></svg>`, lw/2, esc(label), lw+rw/2, esc(level))
	b.WriteByte('\n')
	return b.Bytes()
}
