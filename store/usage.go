package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Usage metering lives under the tenant:
//
//	u/{day}/{connector}   Usage, JSON; {day} is YYYY-MM-DD (UTC), so key
//	                      order is day order.
//
// testdata/golden_api pins it.
const kUsage = "u/"

// DayLayout is the layout of the day of a usage record.
const DayLayout = "2006-01-02"

// Usage is what a tenant used of one connector on one day. Every field
// is a count that only grows.
type Usage struct {
	// Records is the number of records (objects, edges, deletions) the
	// connector emitted.
	Records int64 `json:"records"`
	// Bytes is the number of body bytes that crossed sluice_http
	// (requests and responses).
	Bytes int64 `json:"bytes"`
	// RemoteCalls is the number of sluice_http requests sent.
	RemoteCalls int64 `json:"remote_calls"`
	// WasmMillis is the wall-clock time spent in the module's exports.
	WasmMillis int64 `json:"wasm_ms"`
	// Runs is the number of runs (sync, backfill) started.
	Runs int64 `json:"runs"`
}

// UsageRecord is the usage of one connector on one day.
type UsageRecord struct {
	Day       string `json:"day"`
	Connector string `json:"connector"`
	Usage
}

// add returns u+v, or false if a field would overflow.
func (u Usage) add(v Usage) (Usage, bool) {
	sum := func(a, b int64) (int64, bool) {
		if b > 0 && a > math.MaxInt64-b {
			return 0, false
		}
		return a + b, true
	}
	var ok [5]bool
	var out Usage
	out.Records, ok[0] = sum(u.Records, v.Records)
	out.Bytes, ok[1] = sum(u.Bytes, v.Bytes)
	out.RemoteCalls, ok[2] = sum(u.RemoteCalls, v.RemoteCalls)
	out.WasmMillis, ok[3] = sum(u.WasmMillis, v.WasmMillis)
	out.Runs, ok[4] = sum(u.Runs, v.Runs)
	return out, ok == [5]bool{true, true, true, true, true}
}

func (u Usage) negative() bool {
	return u.Records < 0 || u.Bytes < 0 || u.RemoteCalls < 0 || u.WasmMillis < 0 || u.Runs < 0
}

// checkDay validates a YYYY-MM-DD day.
func checkDay(field, day string) error {
	if len(day) != len(DayLayout) {
		return invalid(field, day, "must be a day as YYYY-MM-DD")
	}
	if _, err := time.Parse(DayLayout, day); err != nil {
		return invalid(field, day, "must be a day as YYYY-MM-DD")
	}
	return nil
}

// maxUsageAttempts bounds the retries of one increment under write
// conflicts; each attempt is one tiny transaction, so contention clears
// within a few.
const maxUsageAttempts = 64

// AddUsage adds u to the usage of connector on day (YYYY-MM-DD, UTC).
// The read-add-write is one transaction, retried on a write conflict,
// so concurrent increments never lose a count. Negative counts are
// refused (usage only grows); a sum that would overflow is ErrInvalid.
func (t *Tenant) AddUsage(ctx context.Context, day, connector string, u Usage) error {
	if err := firstErr(checkDay("day", day), checkName("connector", connector)); err != nil {
		return err
	}
	if u.negative() {
		return invalid("usage", fmt.Sprintf("%+v", u), "counts must not be negative")
	}
	if u == (Usage{}) {
		return ctx.Err()
	}
	key := t.key(kUsage, day, connector)
	var err error
	for range maxUsageAttempts {
		if err = ctx.Err(); err != nil {
			return err
		}
		err = t.db.update("add usage", func(txn *badger.Txn) error {
			var cur Usage
			item, err := txn.Get(key)
			switch {
			case err == nil:
				if err := item.Value(func(v []byte) error { return unmarshal(v, &cur) }); err != nil {
					return err
				}
			case !errors.Is(err, badger.ErrKeyNotFound):
				return err
			}
			sum, ok := cur.add(u)
			if !ok {
				return invalid("usage", connector+"/"+day, "count would overflow")
			}
			val, err := marshal(&sum)
			if err != nil {
				return err
			}
			return txn.Set(key, val)
		})
		if !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return err
}

// Usage returns the usage records from day from to day to, both
// included (YYYY-MM-DD), ordered by day then connector.
func (t *Tenant) Usage(ctx context.Context, from, to string) ([]UsageRecord, error) {
	if err := firstErr(checkDay("from", from), checkDay("to", to)); err != nil {
		return nil, err
	}
	if from > to {
		return nil, invalid("from", from, "must not be after to ("+to+")")
	}
	prefix := t.prefixOf(kUsage)
	seek := append(t.prefixOf(kUsage), from...)
	var out []UsageRecord
	err := t.db.view(func(txn *badger.Txn) error {
		return iterate(ctx, txn, prefix, seek, false, func(item *badger.Item) (bool, error) {
			rest := item.Key()[len(prefix):] // {day}/{connector}
			if len(rest) <= len(DayLayout)+1 || rest[len(DayLayout)] != '/' {
				return true, nil // not written by AddUsage
			}
			day := string(rest[:len(DayLayout)])
			if day > to {
				return false, nil
			}
			rec := UsageRecord{Day: day, Connector: string(rest[len(DayLayout)+1:])}
			if err := item.Value(func(v []byte) error { return unmarshal(v, &rec.Usage) }); err != nil {
				return false, err
			}
			out = append(out, rec)
			return true, nil
		})
	})
	return out, err
}
