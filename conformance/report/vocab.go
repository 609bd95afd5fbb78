package report

import (
	"encoding/json"
	"strings"
)

// Level is a certification level. The zero value is None (no level).
// Levels are ordered: a module at Gold also meets Silver and Bronze.
type Level int

// Levels, lowest first.
const (
	None Level = iota
	Bronze
	Silver
	Gold
)

// Levels lists the certification levels, lowest first.
var Levels = []Level{Bronze, Silver, Gold}

func (l Level) String() string {
	switch l {
	case Bronze:
		return "bronze"
	case Silver:
		return "silver"
	case Gold:
		return "gold"
	}
	return "none"
}

// ParseLevel reads "bronze", "silver" or "gold" (any case); anything
// else is a *LevelError.
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "bronze":
		return Bronze, nil
	case "silver":
		return Silver, nil
	case "gold":
		return Gold, nil
	}
	return None, &LevelError{Name: s}
}

// MarshalText writes the level's name.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText reads a level's name; "none" is None.
func (l *Level) UnmarshalText(b []byte) error {
	if string(b) == "none" {
		*l = None
		return nil
	}
	v, err := ParseLevel(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// Gate groups checks by what they protect. The first four are the
// security review gates of the marketplace (S, P, R, O); correctness,
// provenance and static review complete the suite.
type Gate string

// Gates, in report order.
const (
	GateStatic        Gate = "static"
	GateCorrectness   Gate = "correctness"
	GateSecurity      Gate = "S"
	GatePrivacy       Gate = "P"
	GateReliability   Gate = "R"
	GateObservability Gate = "O"
	GateProvenance    Gate = "provenance"
)

// Gates lists every gate in report order.
var Gates = []Gate{GateStatic, GateCorrectness, GateSecurity, GatePrivacy, GateReliability, GateObservability, GateProvenance}

// Title is the gate's name for people.
func (g Gate) Title() string {
	switch g {
	case GateStatic:
		return "Static review"
	case GateCorrectness:
		return "Correctness"
	case GateSecurity:
		return "Security (S)"
	case GatePrivacy:
		return "Privacy (P)"
	case GateReliability:
		return "Reliability (R)"
	case GateObservability:
		return "Observability (O)"
	case GateProvenance:
		return "Provenance"
	}
	return string(g)
}

// Status is a check's outcome.
type Status string

// Statuses. A skipped check did not run (a check it depends on failed,
// the host lacks the feature, or the mode cannot run it); a level that
// requires it is not reached.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Verdict is what a check found: its status, why, and the evidence
// (anything JSON-able: counts, ids, the offending lines).
type Verdict struct {
	Status   Status `json:"status"`
	Reason   string `json:"reason"`
	Evidence any    `json:"evidence,omitempty"`
}

// evidenceJSON encodes evidence for the report; evidence that does not
// encode is reported as its error, never dropped silently.
func evidenceJSON(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"unencodable_evidence": err.Error()})
	}
	return b
}
