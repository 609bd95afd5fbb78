package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// FormatVersion is the version of the report's JSON format.
const FormatVersion = 1

// Result is one check's verdict with its metadata, as reported.
type Result struct {
	ID     string `json:"id"`
	Gate   Gate   `json:"gate"`
	Level  Level  `json:"level"` // the lowest level that requires the check
	Title  string `json:"title"`
	Status Status `json:"status"`
	Reason string `json:"reason"`
	// Fix tells a partner how to fix a failure (set on failures only).
	Fix      string          `json:"fix,omitempty"`
	Evidence json.RawMessage `json:"evidence,omitempty"`
	// DurationMS is the check's own wall time; shared setup (the
	// baseline syncs) is counted once, in Report.SetupMS.
	DurationMS int64 `json:"duration_ms"`
}

// NewResult builds a Result from a verdict; fix is kept only on failure.
func NewResult(id string, gate Gate, level Level, title, fix string, v Verdict, d time.Duration) Result {
	r := Result{ID: id, Gate: gate, Level: level, Title: title, Status: v.Status, Reason: v.Reason,
		Evidence: evidenceJSON(v.Evidence), DurationMS: d.Milliseconds()}
	if v.Status != Pass {
		r.Fix = fix
	}
	return r
}

// LevelOutcome says whether one level was reached and, if not, which
// required checks failed or were skipped.
type LevelOutcome struct {
	Level   Level    `json:"level"`
	Reached bool     `json:"reached"`
	Failed  []string `json:"failed,omitempty"`
	Skipped []string `json:"skipped,omitempty"`
}

// GroupTiming is the wall time of one gate's checks.
type GroupTiming struct {
	Gate   Gate  `json:"gate"`
	Checks int   `json:"checks"`
	WallMS int64 `json:"wall_ms"`
}

// Report is the outcome of a certification run.
type Report struct {
	Version          int    `json:"version"`
	Connector        string `json:"connector"`
	ConnectorVersion string `json:"connector_version"`
	ModuleDigest     string `json:"module_digest"`
	// Mode is "live" (a sample tenant's URL) or "tape" (recorded tapes).
	Mode string `json:"mode"`
	// Claimed is the manifest's level, Requested the level asked for
	// (default Claimed), Reached the highest level whose every required
	// check passed.
	Claimed   Level `json:"claimed"`
	Requested Level `json:"requested"`
	Reached   Level `json:"reached"`
	// Passed reports whether Reached >= Requested.
	Passed    bool           `json:"passed"`
	Levels    []LevelOutcome `json:"levels"`
	StartedAt time.Time      `json:"started_at"`
	SetupMS   int64          `json:"setup_ms"`
	WallMS    int64          `json:"wall_ms"`
	Groups    []GroupTiming  `json:"groups"`
	Results   []Result       `json:"results"`
}

// Evaluate fills the level outcomes, Reached and Passed from Results: a
// level is reached only when every check it requires (its own and every
// lower level's) passed; a skipped required check is a failure.
func (r *Report) Evaluate() {
	r.Levels = r.Levels[:0]
	r.Reached = None
	blocked := false
	for _, l := range Levels {
		o := LevelOutcome{Level: l}
		for _, res := range r.Results {
			if res.Level > l {
				continue
			}
			switch res.Status {
			case Fail:
				o.Failed = append(o.Failed, res.ID)
			case Skip:
				o.Skipped = append(o.Skipped, res.ID)
			}
		}
		o.Reached = len(o.Failed) == 0 && len(o.Skipped) == 0
		if o.Reached && !blocked {
			r.Reached = l
		} else {
			blocked = true
		}
		r.Levels = append(r.Levels, o)
	}
	r.Passed = r.Requested != None && r.Reached >= r.Requested
}

// Failures returns the checks required by the requested level that did
// not pass (failed or skipped), in report order.
func (r *Report) Failures() []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Level <= r.Requested && res.Status != Pass {
			out = append(out, res)
		}
	}
	return out
}

// Result returns the result of check id.
func (r *Report) Result(id string) (Result, bool) {
	i := slices.IndexFunc(r.Results, func(x Result) bool { return x.ID == id })
	if i < 0 {
		return Result{}, false
	}
	return r.Results[i], true
}

// MarshalIndent encodes the report as indented JSON with a final newline.
func (r *Report) MarshalIndent() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Parse decodes a report of this format version; unknown fields and
// other versions are ErrFormat.
func Parse(b []byte) (*Report, error) {
	var r Report
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if r.Version != FormatVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrFormat, r.Version, FormatVersion)
	}
	return &r, nil
}
