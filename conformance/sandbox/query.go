package sandbox

import (
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	defaultLimit = 100
	maxLimit     = 1000
)

// filter is a bit set of the optional list filters.
type filter uint8

const (
	filterUpdatedSince filter = 1 << iota
	filterCreatedFrom
	filterCreatedTo
)

type filterParam struct {
	name string
	bit  filter
}

var filterParams = [...]filterParam{
	{"updated_since", filterUpdatedSince},
	{"created_from", filterCreatedFrom},
	{"created_to", filterCreatedTo},
}

// resource names a paginated collection and the filters it supports.
type resource struct {
	name    string
	filters filter
}

// listQuery is a parsed, validated list request. Timestamps are Unix
// seconds, rounded so that integer comparisons give the exact semantics
// of the RFC 3339 value the client sent.
type listQuery struct {
	limit        int
	start        int // position the cursor resumes at; 0 without one
	set          filter
	updatedSince int64 // floor: updated_at > since  <=>  updated_at > floor(since)
	createdFrom  int64 // ceil:  created_at >= from  <=>  created_at >= ceil(from)
	createdTo    int64 // ceil:  created_at < to     <=>  created_at < ceil(to)
}

func (q listQuery) has(f filter) bool { return q.set&f != 0 }

// fingerprint binds a cursor to the filters it was issued for.
func (q listQuery) fingerprint() string {
	h := fnv.New32a()
	for _, p := range filterParams {
		v := "-"
		if q.has(p.bit) {
			v = strconv.FormatInt(q.value(p.bit), 10)
		}
		fmt.Fprintf(h, "%s=%s;", p.name, v)
	}
	return fmt.Sprintf("%08x", h.Sum32())
}

func (q *listQuery) value(f filter) int64 {
	switch f {
	case filterUpdatedSince:
		return q.updatedSince
	case filterCreatedFrom:
		return q.createdFrom
	default:
		return q.createdTo
	}
}

func queryError(param, format string, args ...any) error {
	return &FieldError{Err: ErrInvalidQuery, Field: param, Reason: fmt.Sprintf(format, args...)}
}

func cursorError(format string, args ...any) error {
	return &FieldError{Err: ErrInvalidCursor, Field: "cursor", Reason: fmt.Sprintf(format, args...)}
}

// parseListQuery parses the raw query string of a list request for res,
// whose positions are 0..total. Unknown, repeated and malformed
// parameters are errors: a filter the server silently ignored would make
// a client sync the wrong data.
func parseListQuery(res resource, rawQuery string, total int) (listQuery, error) {
	q := listQuery{limit: defaultLimit}
	vals, err := url.ParseQuery(rawQuery)
	if err != nil {
		return q, queryError("query", "malformed query string: %v", err)
	}
	names := make([]string, 0, len(vals))
	for name := range vals {
		names = append(names, name)
	}
	slices.Sort(names) // deterministic error messages
	for _, name := range names {
		if len(vals[name]) != 1 {
			return q, queryError(name, "given %d times", len(vals[name]))
		}
		if name == "limit" || name == "cursor" {
			continue
		}
		i := slices.IndexFunc(filterParams[:], func(p filterParam) bool { return p.name == name })
		switch {
		case i < 0:
			return q, queryError(name, "unknown parameter")
		case res.filters&filterParams[i].bit == 0:
			return q, queryError(name, "not supported by /%s", res.name)
		}
		if err := q.setFilter(filterParams[i].bit, name, vals.Get(name)); err != nil {
			return q, err
		}
	}
	if q.has(filterCreatedFrom) && q.has(filterCreatedTo) && q.createdFrom > q.createdTo {
		return q, queryError("created_from", "is after created_to")
	}
	if v, ok := vals["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 {
			return q, queryError("limit", "%q is not a positive integer", v[0])
		}
		q.limit = min(n, maxLimit)
	}
	if v, ok := vals["cursor"]; ok {
		start, err := decodeCursor(v[0], res, q.fingerprint(), total)
		if err != nil {
			return q, err
		}
		q.start = start
	}
	return q, nil
}

func (q *listQuery) setFilter(f filter, name, v string) error {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return queryError(name, "%q is not an RFC 3339 timestamp", v)
	}
	sec := t.Unix()
	if f != filterUpdatedSince && t.Nanosecond() > 0 {
		sec++
	}
	q.set |= f
	switch f {
	case filterUpdatedSince:
		q.updatedSince = sec
	case filterCreatedFrom:
		q.createdFrom = sec
	default:
		q.createdTo = sec
	}
	return nil
}

// Cursors are base64url("resource:position:fingerprint"): opaque to
// clients, and checked on the way back in.
func encodeCursor(res resource, pos int, fingerprint string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(res.name + ":" + strconv.Itoa(pos) + ":" + fingerprint))
}

func decodeCursor(c string, res resource, fingerprint string, total int) (int, error) {
	foreign := cursorError("not a cursor this server issued")
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || base64.RawURLEncoding.EncodeToString(raw) != c {
		return 0, foreign
	}
	parts := strings.Split(string(raw), ":")
	if len(parts) != 3 {
		return 0, foreign
	}
	pos, err := strconv.Atoi(parts[1])
	if err != nil || pos < 0 || strconv.Itoa(pos) != parts[1] {
		return 0, foreign
	}
	switch {
	case parts[0] != res.name:
		return 0, cursorError("issued for /%s, not /%s", parts[0], res.name)
	case parts[2] != fingerprint:
		return 0, cursorError("issued for other filters; send the same filters with every page")
	case pos > total:
		return 0, cursorError("past the end of the collection")
	}
	return pos, nil
}
