// Package scheduler decides when sync and backfill runs start.
//
// The API submits jobs with [Scheduler.Submit]; periodic syncs come from
// schedules set with [Scheduler.SetSchedule]. The scheduler does not know
// how to run a connector: it calls the [RunFunc] it was given (the server
// wires it to engine.Sync and engine.Backfill) on its own goroutine, with
// a context that Shutdown cancels.
//
// # Rules
//
//   - Single flight per connection: a connection has at most one job
//     queued or running, whatever its kind. A second Submit for a busy
//     connection is refused with a [*BusyError] (errors.Is(err, ErrBusy))
//     naming the run already accepted, rather than coalesced, so the API
//     can answer 409 with that run's id and the caller knows its request
//     was not queued. A schedule that comes due while its connection is
//     busy is skipped, not piled up: the next sync happens at the next
//     interval after the busy run.
//   - Bounded queue: at most QueueLimit jobs wait (running jobs do not
//     count). Beyond that Submit returns ErrQueueFull (API: 429 with
//     Retry-After).
//   - Caps: at most PerTenantConcurrency runs of one tenant and
//     GlobalConcurrency runs in all run at once.
//   - Fairness: each tenant has a FIFO queue. When a slot frees, it goes
//     to the tenant with queued work, under its cap, that has the fewest
//     runs in progress; ties go to the tenant served least recently
//     (round robin). A tenant with a thousand queued connections
//     therefore cannot delay another tenant's job by more than the runs
//     already in progress: the other tenant's job takes the next free
//     slot.
//
// # Lifecycle
//
// New has no side effects beyond registering metrics. Jobs may be
// submitted before Start (the server re-submits the jobs it persisted at
// its last shutdown) and wait until Start. Shutdown stops taking jobs,
// cancels the running jobs' contexts and waits for them, up to its
// context. [Scheduler.Pending] then lists every job accepted but not
// completed, queued or interrupted, with its run id: the server persists
// them and submits them again, run id included, after a restart. The
// scheduler persists nothing itself. Work is not lost meanwhile: the
// engine commits a checkpoint with every page, and a sync run again
// continues from the last committed page.
//
// [Scheduler.Cancel] stops one connection's job, for a connection being
// deleted: a queued job is dropped, a running job's own context is
// canceled and Cancel waits for it to return, so the caller deletes the
// connection's records only once nothing writes to them. Such a job ends
// [Canceled] and, unlike an interrupted one, is not resumed.
//
// # Time
//
// Schedules are driven by a [Clock]; tests pass a fake one and move time
// by hand, so nothing depends on real sleeps.
//
// # Tenancy
//
// [Scheduler.State] and [Scheduler.Wait] look a run up by id alone; the
// returned [JobState] names the job's tenant and the caller (the API)
// must check it against the tenant of the request.
package scheduler
