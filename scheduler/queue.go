package scheduler

import "slices"

// fairQueue holds the queued jobs: one FIFO per tenant, and the choice of
// which tenant's job starts next. It is not safe for concurrent use; the
// Scheduler's mutex guards it.
type fairQueue struct {
	tenants map[string]*tenantQ // tenants with queued or running jobs
	ready   []*tenantQ          // tenants with queued jobs, in no order
	turns   uint64              // number of jobs popped so far
	size    int                 // queued jobs, all tenants
}

type tenantQ struct {
	name    string
	jobs    []*entry // FIFO; jobs[0] starts next
	running int
	// turn is the value of fairQueue.turns when the tenant last got a
	// slot (0: never since it became active); the lowest wins a tie.
	turn  uint64
	ready int // index in fairQueue.ready, -1 when not queued
}

func newFairQueue() fairQueue { return fairQueue{tenants: map[string]*tenantQ{}} }

func (q *fairQueue) tenant(name string) *tenantQ {
	t := q.tenants[name]
	if t == nil {
		t = &tenantQ{name: name, ready: -1}
		q.tenants[name] = t
	}
	return t
}

// push queues e at the end of its tenant's FIFO.
func (q *fairQueue) push(e *entry) {
	t := q.tenant(e.job.Tenant)
	t.jobs = append(t.jobs, e)
	q.size++
	if t.ready < 0 {
		t.ready = len(q.ready)
		q.ready = append(q.ready, t)
	}
}

// pop removes and returns the job that should start next, or nil if no
// tenant with queued jobs is under perTenant running jobs. The winner is
// the eligible tenant with the fewest running jobs, then the one served
// least recently, then (for determinism) the lowest name. The scan is
// linear in the number of tenants with queued jobs.
func (q *fairQueue) pop(perTenant int) *entry {
	var best *tenantQ
	for _, t := range q.ready {
		if t.running >= perTenant {
			continue
		}
		if best == nil || t.running < best.running ||
			t.running == best.running && (t.turn < best.turn || t.turn == best.turn && t.name < best.name) {
			best = t
		}
	}
	if best == nil {
		return nil
	}
	e := best.jobs[0]
	best.jobs[0] = nil
	best.jobs = best.jobs[1:]
	q.size--
	best.running++
	q.turns++
	best.turn = q.turns
	if len(best.jobs) == 0 {
		best.jobs = nil // let the backing array go
		q.unready(best)
	}
	return e
}

// unready drops t from the ready list (swap with the last).
func (q *fairQueue) unready(t *tenantQ) {
	i, last := t.ready, len(q.ready)-1
	q.ready[i] = q.ready[last]
	q.ready[i].ready = i
	q.ready[last] = nil
	q.ready = q.ready[:last]
	t.ready = -1
}

// finished records the end of one of tenant's running jobs and forgets
// the tenant once it is idle.
func (q *fairQueue) finished(tenant string) {
	t := q.tenants[tenant]
	if t == nil {
		return
	}
	t.running--
	q.forgetIdle(t)
}

// remove drops a queued job (Cancel) and reports whether it was queued.
// It is linear in the tenant's queue, which Cancel of a connection can
// afford.
func (q *fairQueue) remove(e *entry) bool {
	t := q.tenants[e.job.Tenant]
	if t == nil {
		return false
	}
	i := slices.Index(t.jobs, e)
	if i < 0 {
		return false
	}
	t.jobs = slices.Delete(t.jobs, i, i+1)
	q.size--
	if len(t.jobs) == 0 {
		t.jobs = nil
		q.unready(t)
	}
	q.forgetIdle(t)
	return true
}

// forgetIdle drops t once it has nothing queued or running, so the map
// stays bounded by active tenants.
func (q *fairQueue) forgetIdle(t *tenantQ) {
	if t.running <= 0 && len(t.jobs) == 0 {
		delete(q.tenants, t.name)
	}
}

// queued returns every queued job, tenant by tenant, each in FIFO order.
func (q *fairQueue) queued() []*entry {
	out := make([]*entry, 0, q.size)
	for _, t := range q.ready {
		out = append(out, t.jobs...)
	}
	return out
}
