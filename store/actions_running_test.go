package store

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestRunningActionRuns(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	acme, globex := tenant(t, db, "acme"), tenant(t, db, "globex")
	for _, r := range []struct {
		id, state string
		age       time.Duration // UpdatedAt is t0+1h minus age
	}{
		{"run-old", ActionRunning, time.Hour},
		{"run-young", ActionRunning, time.Minute},
		{"run-done", ActionSucceeded, time.Hour},
		{"run-pending", ActionPendingApproval, time.Hour},
	} {
		a := actionRun(r.id, "c1")
		a.State, a.UpdatedAt = r.state, t0.Add(time.Hour-r.age)
		if _, _, err := acme.CreateActionRun(ctx, a, ""); err != nil {
			t.Fatal(err)
		}
	}
	other := actionRun("run-globex", "c1")
	other.State = ActionRunning
	if _, _, err := globex.CreateActionRun(ctx, other, ""); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		before time.Time
		want   []string
	}{
		{"every running run", time.Time{}, []string{"run-old", "run-young"}},
		{"older than ten minutes", t0.Add(50 * time.Minute), []string{"run-old"}},
		{"updated exactly at before", t0, []string{"run-old"}},
		{"none that old", t0.Add(-time.Second), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runs, err := acme.RunningActionRuns(ctx, c.before)
			mustNil(t, err)
			var got []string
			for _, r := range runs {
				got = append(got, r.ID)
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("running runs = %q, want %q", got, c.want)
			}
		})
	}
}
