package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Control evidence and check schedules (doc.go lists the keys):
//
//	ev/{conn}/{control}/{nanos}/{id}   Evidence, JSON; {nanos} is StartedAt, so a control's evidence
//	                                   lists in time order.
//	cks/{conn}/{check}                 CheckSchedule, JSON.
//	ckd/{nanos}/{conn}/{check}         check schedule due index ({nanos} = NextAt), empty.
const (
	kEvidence    = "ev/"
	kCheckSched  = "cks/"
	kCheckDue    = "ckd/"
	maxEvidence  = 256     // entries in one Evidence map
	maxEvidenceV = 8 << 10 // bytes of one evidence value
)

// Evidence is the outcome of one verify check: the control it evidences,
// pass, fail or error, the module's evidence (scrubbed of secrets) and
// the digest of each value, as the check's receipt attests them.
type Evidence struct {
	ID           string            `json:"id"`
	Connection   string            `json:"connection"`
	Connector    string            `json:"connector"`
	Version      string            `json:"version"`
	ModuleDigest string            `json:"module_digest"`
	Control      string            `json:"control"`
	Check        string            `json:"check"`
	Status       string            `json:"status"`
	ErrorType    string            `json:"error_type,omitempty"`
	Evidence     map[string]string `json:"evidence"`
	Digests      map[string]string `json:"digests"`
	// Refused counts the requests the host refused during the check.
	Refused       int64     `json:"refused_requests"`
	Requester     string    `json:"requester"`
	Scheduled     bool      `json:"scheduled,omitempty"`
	CorrelationID string    `json:"correlation_id"`
	ReceiptID     string    `json:"receipt_id"`
	StartedAt     time.Time `json:"started_at"`
	FinishedAt    time.Time `json:"finished_at"`
}

// CheckSchedule runs one check of a connection every Every.
type CheckSchedule struct {
	Connection string          `json:"connection"`
	Check      string          `json:"check"`
	Every      time.Duration   `json:"every"`
	Params     json.RawMessage `json:"params,omitempty"`
	NextAt     time.Time       `json:"next_at"`
	SetBy      string          `json:"set_by"`
	UpdatedAt  time.Time       `json:"updated_at"`
}

// PutEvidence stores one piece of control evidence.
func (t *Tenant) PutEvidence(ctx context.Context, e Evidence) error {
	err := firstErr(
		checkName("evidence.id", e.ID),
		checkID("evidence.connection", e.Connection),
		checkName("evidence.control", e.Control),
		checkName("evidence.check", e.Check),
		checkName("evidence.status", e.Status),
		checkTime("evidence.started_at", e.StartedAt),
	)
	if err != nil {
		return err
	}
	if len(e.Evidence) > maxEvidence {
		return invalid("evidence.evidence", "", fmt.Sprintf("must have at most %d entries", maxEvidence))
	}
	for k, v := range e.Evidence {
		if len(k) > maxNameLen || len(v) > maxEvidenceV {
			return invalid("evidence.evidence."+k, "", fmt.Sprintf("names at most %d bytes, values at most %d", maxNameLen, maxEvidenceV))
		}
	}
	e.StartedAt, e.FinishedAt = utc(e.StartedAt), utc(e.FinishedAt)
	val, err := marshal(&e)
	if err != nil {
		return invalid("evidence", e.ID, err.Error())
	}
	return t.set(ctx, "put evidence", t.key(kEvidence, e.Connection, e.Control, nanosString(e.StartedAt), e.ID), val)
}

// EvidenceList lists a connection's evidence newest first, of one
// control if control is set. before is the next of the previous page
// ("" starts at the newest); limit 0 means 100, at most 1000.
func (t *Tenant) EvidenceList(ctx context.Context, connection, control, before string, limit int) (out []Evidence, next string, err error) {
	if err := checkID("connection", connection); err != nil {
		return nil, "", err
	}
	prefix := t.prefixOf(kEvidence, connection)
	if control != "" {
		if err := checkName("control", control); err != nil {
			return nil, "", err
		}
		prefix = t.prefixOf(kEvidence, connection, control)
	}
	var seek []byte
	if before != "" {
		if err := checkEvidenceCursor(before, control == ""); err != nil {
			return nil, "", err
		}
		seek = append(bytes.Clone(prefix), before...)
	}
	limit = clampLimit(limit)
	err = t.db.view(func(txn *badger.Txn) error {
		return iterate(ctx, txn, prefix, seek, true, func(item *badger.Item) (bool, error) {
			rest := string(item.Key()[len(prefix):])
			if rest == before {
				return true, nil
			}
			if len(out) == limit {
				next = cursorOf(out[len(out)-1], control == "")
				return false, nil
			}
			var e Evidence
			if err := item.Value(func(v []byte) error { return unmarshal(v, &e) }); err != nil {
				return false, err
			}
			out = append(out, e)
			return true, nil
		})
	})
	return out, next, err
}

func cursorOf(e Evidence, withControl bool) string {
	c := nanosString(e.StartedAt) + "/" + e.ID
	if withControl {
		c = e.Control + "/" + c
	}
	return c
}

// checkEvidenceCursor accepts what EvidenceList returns as next:
// [{control}/]{nanos}/{id}.
func checkEvidenceCursor(c string, withControl bool) error {
	parts := strings.Split(c, "/")
	n := 2
	if withControl {
		n = 3
	}
	if len(parts) != n {
		return invalid("before", c, "is not a cursor this listing returned")
	}
	if withControl {
		if !validName(parts[0], maxNameLen) {
			return invalid("before", c, "is not a cursor this listing returned")
		}
		parts = parts[1:]
	}
	if len(parts[0]) != nanosLen || strings.Trim(parts[0], "0123456789") != "" || !validName(parts[1], maxNameLen) {
		return invalid("before", c, "is not a cursor this listing returned")
	}
	return nil
}

// PutCheckSchedule sets (or replaces) the schedule of a check and moves
// its due index entry, in one transaction.
func (t *Tenant) PutCheckSchedule(ctx context.Context, s CheckSchedule) error {
	err := firstErr(
		checkID("check_schedule.connection", s.Connection),
		checkName("check_schedule.check", s.Check),
		checkTime("check_schedule.next_at", s.NextAt),
		checkLen("check_schedule.set_by", s.SetBy, maxFieldLen),
	)
	if err != nil {
		return err
	}
	if s.Every <= 0 {
		return invalid("check_schedule.every", s.Every.String(), "must be positive")
	}
	if len(s.Params) > maxParamsBytes {
		return invalid("check_schedule.params", "", fmt.Sprintf("must be at most %d bytes", maxParamsBytes))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.NextAt, s.UpdatedAt = utc(s.NextAt), utc(s.UpdatedAt)
	val, err := marshal(&s)
	if err != nil {
		return invalid("check_schedule", s.Check, err.Error())
	}
	return t.db.update("put check schedule", func(txn *badger.Txn) error {
		if err := t.dropCheckDueTxn(txn, s.Connection, s.Check); err != nil {
			return err
		}
		if err := txn.Set(t.key(kCheckSched, s.Connection, s.Check), val); err != nil {
			return err
		}
		return txn.Set(t.key(kCheckDue, nanosString(s.NextAt), s.Connection, s.Check), nil)
	})
}

// dropCheckDueTxn deletes the due entry of a check's stored schedule.
func (t *Tenant) dropCheckDueTxn(txn *badger.Txn, conn, check string) error {
	item, err := txn.Get(t.key(kCheckSched, conn, check))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var old CheckSchedule
	if err := item.Value(func(v []byte) error { return unmarshal(v, &old) }); err != nil {
		return err
	}
	return txn.Delete(t.key(kCheckDue, nanosString(old.NextAt), conn, check))
}

// CheckSchedule returns a check's schedule; ErrNotFound if none.
func (t *Tenant) CheckSchedule(ctx context.Context, connection, check string) (CheckSchedule, error) {
	var s CheckSchedule
	if err := firstErr(checkID("connection", connection), checkName("check", check)); err != nil {
		return s, err
	}
	err := t.getJSON(ctx, t.key(kCheckSched, connection, check), "check schedule", connection+"/"+check, &s)
	return s, err
}

// DeleteCheckSchedule removes a check's schedule; ErrNotFound if none.
func (t *Tenant) DeleteCheckSchedule(ctx context.Context, connection, check string) error {
	if err := firstErr(checkID("connection", connection), checkName("check", check)); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return t.db.update("delete check schedule", func(txn *badger.Txn) error {
		key := t.key(kCheckSched, connection, check)
		if _, err := txn.Get(key); errors.Is(err, badger.ErrKeyNotFound) {
			return notFound("check schedule", connection+"/"+check)
		} else if err != nil {
			return err
		}
		if err := t.dropCheckDueTxn(txn, connection, check); err != nil {
			return err
		}
		return txn.Delete(key)
	})
}

// DueChecks lists the schedules due at or before now, oldest first, at
// most limit (0 means 100).
func (t *Tenant) DueChecks(ctx context.Context, now time.Time, limit int) ([]CheckSchedule, error) {
	if err := checkTime("now", now); err != nil {
		return nil, err
	}
	limit = clampLimit(limit)
	prefix := t.prefixOf(kCheckDue)
	end := nanosString(now)
	var out []CheckSchedule
	err := t.db.view(func(txn *badger.Txn) error {
		return iterate(ctx, txn, prefix, nil, false, func(item *badger.Item) (bool, error) {
			rest := string(item.Key()[len(prefix):])
			parts := strings.Split(rest, "/")
			if len(parts) != 3 || parts[0] > end {
				return false, nil
			}
			sc, err := txn.Get(t.key(kCheckSched, parts[1], parts[2]))
			if err != nil {
				return false, fmt.Errorf("store: check schedule of due entry %q: %w", rest, err)
			}
			var s CheckSchedule
			if err := sc.Value(func(v []byte) error { return unmarshal(v, &s) }); err != nil {
				return false, err
			}
			out = append(out, s)
			return len(out) < limit, nil
		})
	})
	return out, err
}
