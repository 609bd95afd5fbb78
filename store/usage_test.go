package store

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
)

func TestAddUsageAndRange(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	acme, globex := tenant(t, db, "acme"), tenant(t, db, "globex")
	adds := []struct {
		tn        *Tenant
		day, conn string
		u         Usage
	}{
		{acme, "2025-01-01", "directory", Usage{Records: 10, Bytes: 100, RemoteCalls: 2, WasmMillis: 7, Runs: 1}},
		{acme, "2025-01-01", "directory", Usage{Records: 5, Bytes: 50, RemoteCalls: 1, WasmMillis: 3, Runs: 1}},
		{acme, "2025-01-01", "crm", Usage{Records: 1}},
		{acme, "2025-01-02", "directory", Usage{Runs: 1}},
		{acme, "2025-01-31", "directory", Usage{Runs: 1}},
		{globex, "2025-01-01", "directory", Usage{Records: 999}},
	}
	for _, a := range adds {
		mustNil(t, a.tn.AddUsage(ctx, a.day, a.conn, a.u))
	}
	tests := []struct {
		from, to string
		want     []UsageRecord
	}{
		{"2025-01-01", "2025-01-01", []UsageRecord{
			{Day: "2025-01-01", Connector: "crm", Usage: Usage{Records: 1}},
			{Day: "2025-01-01", Connector: "directory", Usage: Usage{Records: 15, Bytes: 150, RemoteCalls: 3, WasmMillis: 10, Runs: 2}},
		}},
		{"2025-01-02", "2025-01-30", []UsageRecord{{Day: "2025-01-02", Connector: "directory", Usage: Usage{Runs: 1}}}},
		{"2025-01-02", "2025-02-28", []UsageRecord{
			{Day: "2025-01-02", Connector: "directory", Usage: Usage{Runs: 1}},
			{Day: "2025-01-31", Connector: "directory", Usage: Usage{Runs: 1}},
		}},
		{"2024-01-01", "2024-12-31", nil},
	}
	for _, tc := range tests {
		got, err := acme.Usage(ctx, tc.from, tc.to)
		mustNil(t, err)
		if len(got) != len(tc.want) {
			t.Fatalf("Usage(%s, %s) = %+v, want %+v", tc.from, tc.to, got, tc.want)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("Usage(%s, %s)[%d] = %+v, want %+v", tc.from, tc.to, i, got[i], tc.want[i])
			}
		}
	}
}

func TestAddUsageValidation(t *testing.T) {
	ctx := context.Background()
	tn := tenant(t, openDB(t), "acme")
	tests := []struct {
		name, day, conn string
		u               Usage
		field           string
	}{
		{"bad day", "2025-1-1", "directory", Usage{Runs: 1}, "day"},
		{"impossible day", "2025-02-30", "directory", Usage{Runs: 1}, "day"},
		{"bad connector", "2025-01-01", "a/b", Usage{Runs: 1}, "connector"},
		{"negative", "2025-01-01", "directory", Usage{Bytes: -1}, "usage"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tn.AddUsage(ctx, tc.day, tc.conn, tc.u)
			var verr *ValidationError
			if !errors.As(err, &verr) || verr.Field != tc.field {
				t.Fatalf("AddUsage = %v, want a ValidationError on %q", err, tc.field)
			}
		})
	}
	if _, err := tn.Usage(ctx, "2025-02-01", "2025-01-01"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Usage(from > to) = %v, want ErrInvalid", err)
	}
	if _, err := tn.Usage(ctx, "yesterday", "2025-01-01"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Usage(bad from) = %v, want ErrInvalid", err)
	}
	// Overflow is refused and leaves the stored count alone.
	mustNil(t, tn.AddUsage(ctx, "2025-01-01", "directory", Usage{Bytes: math.MaxInt64 - 1}))
	if err := tn.AddUsage(ctx, "2025-01-01", "directory", Usage{Bytes: 2}); !errors.Is(err, ErrInvalid) {
		t.Errorf("overflowing AddUsage = %v, want ErrInvalid", err)
	}
	got, err := tn.Usage(ctx, "2025-01-01", "2025-01-01")
	mustNil(t, err)
	if len(got) != 1 || got[0].Bytes != math.MaxInt64-1 {
		t.Errorf("after refused overflow: %+v", got)
	}
	// A zero increment writes nothing.
	mustNil(t, tn.AddUsage(ctx, "2025-03-01", "directory", Usage{}))
	if got, _ := tn.Usage(ctx, "2025-03-01", "2025-03-01"); len(got) != 0 {
		t.Errorf("zero increment stored %+v", got)
	}
}

// Concurrent increments of one counter never lose a count: each is one
// transaction retried on conflict.
func TestAddUsageConcurrent(t *testing.T) {
	ctx := context.Background()
	tn := tenant(t, openDB(t), "acme")
	const workers, each = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				errs <- tn.AddUsage(ctx, "2025-01-01", "directory", Usage{Records: 3, Runs: 1})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		mustNil(t, err)
	}
	got, err := tn.Usage(ctx, "2025-01-01", "2025-01-01")
	mustNil(t, err)
	if len(got) != 1 || got[0].Runs != workers*each || got[0].Records != 3*workers*each {
		t.Fatalf("after %d concurrent increments: %+v", workers*each, got)
	}
}
