package engine

import (
	"context"
	"sync"
)

type poolKey struct{ tenant, digest string }

// pool keeps idle instances per tenant × module digest. Instances never
// cross tenants: guest memory, globals and heap survive between calls.
type pool struct {
	mu      sync.Mutex
	idle    map[poolKey][]*instance
	size    int
	recycle int
	m       *metrics
	closed  bool
}

func newPool(size, recycle int, m *metrics) *pool {
	return &pool{idle: map[poolKey][]*instance{}, size: size, recycle: recycle, m: m}
}

func (p *pool) get(k poolKey) *instance {
	p.mu.Lock()
	defer p.mu.Unlock()
	list := p.idle[k]
	if len(list) == 0 {
		return nil
	}
	inst := list[len(list)-1]
	p.idle[k] = list[:len(list)-1]
	p.m.poolIdle.Dec()
	return inst
}

// put returns an instance for reuse, or closes it when it is broken,
// worn out or the pool for its key is full.
func (p *pool) put(ctx context.Context, k poolKey, inst *instance) {
	p.mu.Lock()
	if inst.broken || inst.calls >= p.recycle || len(p.idle[k]) >= p.size || p.closed {
		p.mu.Unlock()
		inst.close(ctx)
		return
	}
	p.idle[k] = append(p.idle[k], inst)
	p.m.poolIdle.Inc()
	p.mu.Unlock()
}

// drop closes every idle instance of a module digest.
func (p *pool) drop(ctx context.Context, digest string) {
	p.mu.Lock()
	var victims []*instance
	for k, list := range p.idle {
		if k.digest == digest {
			victims = append(victims, list...)
			delete(p.idle, k)
		}
	}
	p.mu.Unlock()
	for _, inst := range victims {
		p.m.poolIdle.Dec()
		inst.close(ctx)
	}
}

func (p *pool) close(ctx context.Context) {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = map[poolKey][]*instance{}
	p.mu.Unlock()
	for _, list := range idle {
		for _, inst := range list {
			p.m.poolIdle.Dec()
			inst.close(ctx)
		}
	}
}
