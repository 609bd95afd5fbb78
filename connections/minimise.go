package connections

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// checkMinimisation checks a connection's data-minimisation settings
// against the manifest: every narrowed list names a declared object type
// and only fields of its allow-list (a tenant narrows, never widens), and
// persistent indexing is not asked for when the vendor forbids it.
// Problems are *FieldError naming the offending field, e.g.
// "fields.User[2]".
func checkMinimisation(mf *protocol.Manifest, fields map[string][]string, persistent *bool) error {
	if persistent != nil && *persistent && forcedNoIndex(mf) {
		return &FieldError{Field: "persistent_indexing", Reason: fmt.Sprintf("connector %s %s forbids persistent indexing (its manifest sets persistent_indexing false)", mf.ID, mf.Version)}
	}
	types := make([]string, 0, len(fields))
	for typ := range fields {
		types = append(types, typ)
	}
	sort.Strings(types) // the first problem reported is stable
	for _, typ := range types {
		i := slices.IndexFunc(mf.ObjectTypes, func(ot protocol.ObjectType) bool { return ot.Name == typ })
		if i < 0 {
			return &FieldError{Field: "fields." + truncate(typ, 80), Reason: fmt.Sprintf("%q is not an object type of connector %s %s", truncate(typ, 80), mf.ID, mf.Version)}
		}
		allow := mf.ObjectTypes[i].Fields
		list := fields[typ]
		for j, f := range list {
			field := fmt.Sprintf("fields.%s[%d]", typ, j)
			if _, ok := allow[f]; !ok {
				return &FieldError{Field: field, Reason: fmt.Sprintf("%q is not in the allow-list of %s (a connection can only narrow it)", truncate(f, 80), typ)}
			}
			if slices.Contains(list[:j], f) {
				return &FieldError{Field: field, Reason: fmt.Sprintf("%q is listed twice", f)}
			}
		}
	}
	return nil
}

// forcedNoIndex reports whether the vendor forbids persistent indexing.
func forcedNoIndex(mf *protocol.Manifest) bool {
	return mf.PersistentIndexing != nil && !*mf.PersistentIndexing
}

// NoIndex reports whether runs of a connection with the given override
// keep objects out of the store: the manifest's false forces it, and a
// connection may ask for it itself.
func NoIndex(mf *protocol.Manifest, override *bool) bool {
	if forcedNoIndex(mf) {
		return true
	}
	return override != nil && !*override
}

// maxRetentionDays is a century: longer is "keep".
const maxRetentionDays = 36500

// checkRetention checks per-type retention overrides: declared types,
// 0 (keep until deleted) to maxRetentionDays.
func checkRetention(mf *protocol.Manifest, days map[string]int) error {
	types := make([]string, 0, len(days))
	for typ := range days {
		types = append(types, typ)
	}
	sort.Strings(types)
	for _, typ := range types {
		if !slices.ContainsFunc(mf.ObjectTypes, func(ot protocol.ObjectType) bool { return ot.Name == typ }) {
			return &FieldError{Field: "retention_days." + truncate(typ, 80), Reason: fmt.Sprintf("%q is not an object type of connector %s %s", truncate(typ, 80), mf.ID, mf.Version)}
		}
		if d := days[typ]; d < 0 || d > maxRetentionDays {
			return &FieldError{Field: "retention_days." + typ, Reason: fmt.Sprintf("must be 0 (keep) to %d days, got %d", maxRetentionDays, d)}
		}
	}
	return nil
}

// Retention is the retention window of each object type of a connection:
// its override, else the manifest's retention_days; types kept until
// deleted are absent.
func Retention(mf *protocol.Manifest, override map[string]int) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, ot := range mf.ObjectTypes {
		days, ok := override[ot.Name]
		if !ok {
			days = mf.RetentionDays
		}
		if days > 0 {
			out[ot.Name] = time.Duration(days) * 24 * time.Hour
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
