package engine

import (
	"crypto/sha256"
	"math/rand/v2"
	"sync"
	"time"
)

// vclock is a guest's virtual clock. Each read advances it by one
// microsecond from the run's start, so time moves forward plausibly and a
// replay that makes the same reads sees exactly the same times.
type vclock struct {
	mu    sync.Mutex
	start int64
	reads int64
}

func (c *vclock) reset(start time.Time) {
	c.mu.Lock()
	c.start, c.reads = start.UnixNano(), 0
	c.mu.Unlock()
}

func (c *vclock) tick() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	return c.start + c.reads*int64(time.Microsecond)
}

func (c *vclock) walltime() (int64, int32) {
	t := c.tick()
	return t / 1e9, int32(t % 1e9)
}

func (c *vclock) nanotime() int64 {
	t := c.tick()
	c.mu.Lock()
	defer c.mu.Unlock()
	return t - c.start
}

// vrand is a guest's random source: a ChaCha8 stream seeded per run.
type vrand struct {
	mu sync.Mutex
	r  *rand.ChaCha8
}

func (r *vrand) reset(seed [32]byte) {
	r.mu.Lock()
	r.r = rand.NewChaCha8(seed)
	r.mu.Unlock()
}

func (r *vrand) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.r == nil {
		r.r = rand.NewChaCha8([32]byte{})
	}
	return r.r.Read(p)
}

// runSeed derives a run's random seed from its id, so a resumed run and
// its tape agree on it without storing it separately.
func runSeed(runID string) [32]byte {
	return sha256.Sum256([]byte("sluice/seed/v1\x00" + runID))
}
