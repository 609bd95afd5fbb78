package scheduler_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/scheduler"
)

func Example() {
	ctx := context.Background()
	s, err := scheduler.New(scheduler.Config{
		Run: func(ctx context.Context, j scheduler.Job) error {
			fmt.Printf("%s of %s/%s\n", j.Kind, j.Tenant, j.Connection)
			return nil // the server calls engine.Sync or engine.Backfill here
		},
		PerTenantConcurrency: 2,
	})
	if err != nil {
		panic(err)
	}
	job := scheduler.Job{Tenant: "acme", Connection: "directory", Kind: scheduler.KindSync}
	id, _ := s.Submit(ctx, job)
	_, err = s.Submit(ctx, job) // one job per connection at a time
	var busy *scheduler.BusyError
	fmt.Println("second submit busy:", errors.As(err, &busy) && busy.RunID == id)

	if err := s.Start(ctx); err != nil {
		panic(err)
	}
	st, _ := s.Wait(ctx, id)
	fmt.Println("state:", st.Status)
	_ = s.Shutdown(ctx)
	fmt.Println("pending after shutdown:", len(s.Pending()))
	// Output:
	// second submit busy: true
	// sync of acme/directory
	// state: done
	// pending after shutdown: 0
}
