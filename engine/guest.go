package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	extism "github.com/extism/go-sdk"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/sys"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/hostfns"
)

// guest runs a connector's exports: a Wasm module, or the same connector
// code linked natively (benchmarks and tests).
type guest interface {
	acquire(ctx context.Context, tenant string, start time.Time, seed [32]byte, fresh bool) (session, error)
}

// session is one run's hold on a guest: a single instance, whose clock and
// random source were reset for the run.
type session interface {
	call(ctx context.Context, hc *hostfns.Call, export string, input []byte) ([]byte, error)
	release(ctx context.Context)
}

// Transport is the host side of the guest ABI, as bytes. *hostfns.Call
// implements it; the guest SDK's native runner consumes it.
type Transport interface {
	HTTP(ctx context.Context, req []byte) []byte
	Emit(ctx context.Context, batch []byte) []byte
	Log(ctx context.Context, level protocol.LogLevel, msg string)
}

// NativeFunc runs one export of a connector linked into the host process.
// The guest SDK's sdk.Invoke, closed over a connector, is one.
type NativeFunc func(ctx context.Context, t Transport, export string, input []byte) ([]byte, error)

type nativeGuest struct {
	fn     NativeFunc
	limits Limits
}

func (g *nativeGuest) acquire(context.Context, string, time.Time, [32]byte, bool) (session, error) {
	return g, nil
}

func (g *nativeGuest) call(ctx context.Context, hc *hostfns.Call, export string, input []byte) ([]byte, error) {
	out, err := g.fn(ctx, hc, export, input)
	if err != nil {
		return nil, guestError(export, err.Error())
	}
	if len(out) > g.limits.MaxOutputBytes {
		return nil, &CallError{Export: export, Kind: ErrOutputTooLarge, Detail: fmt.Sprintf("%d bytes, the cap is %d", len(out), g.limits.MaxOutputBytes)}
	}
	return out, nil
}

func (g *nativeGuest) release(context.Context) {}

// wasmGuest is a compiled module plus the engine's pool.
type wasmGuest struct {
	e        *Engine
	digest   string
	compiled *extism.CompiledPlugin
}

// instance is one instantiated module with its own virtual clock, random
// source and stderr tail.
type instance struct {
	plugin *extism.Plugin
	clock  *vclock
	rand   *vrand
	stderr *tail
	calls  int
	broken bool
}

func (inst *instance) close(ctx context.Context) {
	_ = inst.plugin.Close(ctx)
}

func (g *wasmGuest) newInstance(ctx context.Context) (*instance, error) {
	inst := &instance{clock: &vclock{}, rand: &vrand{}, stderr: &tail{max: 2048}}
	mc := wazero.NewModuleConfig().
		WithWalltime(inst.clock.walltime, 1).
		WithNanotime(inst.clock.nanotime, 1).
		WithRandSource(inst.rand).
		WithStderr(inst.stderr)
	p, err := g.compiled.Instance(ctx, extism.PluginInstanceConfig{ModuleConfig: mc})
	if err != nil {
		return nil, fmt.Errorf("%w: instantiate: %v", ErrInvalidModule, err)
	}
	inst.plugin = p
	return inst, nil
}

func (g *wasmGuest) acquire(ctx context.Context, tenant string, start time.Time, seed [32]byte, fresh bool) (session, error) {
	key := poolKey{tenant: tenant, digest: g.digest}
	began, result := time.Now(), "hit"
	defer func() { g.e.metrics.acquire.WithLabelValues(result).Observe(time.Since(began).Seconds()) }()
	var inst *instance
	if !fresh {
		inst = g.e.pool.get(key)
	}
	if inst == nil {
		result = "miss"
		var err error
		if inst, err = g.newInstance(ctx); err != nil {
			return nil, err
		}
		g.e.metrics.instances.Inc()
	}
	inst.clock.reset(start)
	inst.rand.reset(seed)
	return &wasmSession{g: g, key: key, inst: inst, fresh: fresh}, nil
}

type wasmSession struct {
	g     *wasmGuest
	key   poolKey
	inst  *instance
	fresh bool
}

func (s *wasmSession) release(ctx context.Context) {
	if s.fresh {
		s.inst.close(ctx)
		return
	}
	s.g.e.pool.put(ctx, s.key, s.inst)
}

func (s *wasmSession) call(ctx context.Context, hc *hostfns.Call, export string, input []byte) (_ []byte, err error) {
	ctx, span := s.g.e.startCall(ctx, s.key.tenant, s.g.digest, export)
	defer func() { endCall(span, err) }()
	inst := s.inst
	if inst.broken {
		return nil, &CallError{Export: export, Kind: ErrTrap, Detail: "instance was stopped by an earlier failure"}
	}
	if !inst.plugin.FunctionExists(export) {
		return nil, &CallError{Export: export, Kind: ErrNotSupported}
	}
	limits := s.g.e.limits
	callCtx, cancel := context.WithTimeout(hostfns.WithCall(ctx, hc), limits.CallTimeout)
	defer cancel()
	inst.calls++
	inst.stderr.reset()
	began := time.Now()
	rc, out, err := inst.plugin.CallWithContext(callCtx, export, input)
	s.g.e.metrics.callSeconds.WithLabelValues(export).Observe(time.Since(began).Seconds())
	if err != nil || rc != 0 {
		return nil, s.classify(ctx, callCtx, export, rc, err)
	}
	if len(out) > limits.MaxOutputBytes {
		return nil, &CallError{Export: export, Kind: ErrOutputTooLarge, Detail: fmt.Sprintf("%d bytes, the cap is %d", len(out), limits.MaxOutputBytes)}
	}
	return out, nil
}

// classify turns an Extism/wazero failure into a CallError and marks the
// instance broken when it can no longer be trusted.
func (s *wasmSession) classify(ctx, callCtx context.Context, export string, rc uint32, err error) error {
	inst := s.inst
	if ctx.Err() != nil {
		inst.broken = true
		return fmt.Errorf("%s: %w", export, ctx.Err())
	}
	if errors.Is(callCtx.Err(), context.DeadlineExceeded) {
		inst.broken = true
		return &CallError{Export: export, Kind: ErrDeadline, Detail: fmt.Sprintf("stopped after %s", s.g.e.limits.CallTimeout), Err: err}
	}
	var exit *sys.ExitError
	trapped := errors.As(err, &exit) || inst.stderr.len() > 0 || isRuntimeError(err)
	if trapped {
		inst.broken = true
		detail := trapReason(inst.stderr.String())
		if detail == "" && err != nil {
			detail = err.Error()
		}
		return &CallError{Export: export, Kind: ErrTrap, Detail: detail, Err: err}
	}
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if msg == "" {
		msg = fmt.Sprintf("return code %d", rc)
	}
	return guestError(export, msg)
}

// guestError reads a connector's error: {"type","message"} JSON when the
// connector follows the ABI's convention, plain text otherwise.
func guestError(export, msg string) *CallError {
	ce := &CallError{Export: export, Kind: ErrGuest, Detail: msg}
	var er protocol.ErrorResponse
	if json.Unmarshal([]byte(msg), &er) == nil && er.Message != "" {
		ce.Detail, ce.GuestType = er.Message, er.Type
	}
	return ce
}

// isRuntimeError reports whether err came from the Wasm runtime (a trap)
// rather than from the guest's own error_set.
func isRuntimeError(err error) bool {
	if err == nil {
		return false
	}
	m := err.Error()
	return strings.Contains(m, "wasm error") || strings.Contains(m, "module closed") || strings.Contains(m, "module is closed")
}

// trapReason picks the line a runtime wrote about why it died ("fatal
// error: out of memory", "panic: …", "runtime: goroutine stack exceeds …")
// out of a stderr capture; otherwise its last lines.
func trapReason(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	var picked []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "fatal error:") || strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "runtime:") {
			picked = append(picked, l)
			if len(picked) == 2 {
				break
			}
		}
	}
	if len(picked) == 0 && len(lines) > 3 {
		picked = lines[len(lines)-3:]
	} else if len(picked) == 0 {
		picked = lines
	}
	return strings.Join(picked, " | ")
}

// tail captures a guest's stderr, where the Go runtime reports fatal
// errors: the first max bytes (where the reason is) and the last max
// bytes, dropping the middle of a long goroutine dump.
type tail struct {
	mu    sync.Mutex
	head  []byte
	end   []byte
	max   int
	total int
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total += len(p)
	if room := t.max - len(t.head); room > 0 {
		n := min(room, len(p))
		t.head = append(t.head, p[:n]...)
		p = p[n:]
	}
	t.end = append(t.end, p...)
	if len(t.end) > t.max {
		t.end = append(t.end[:0], t.end[len(t.end)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) reset() {
	t.mu.Lock()
	t.head, t.end, t.total = t.head[:0], t.end[:0], 0
	t.mu.Unlock()
}

func (t *tail) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.end) == 0 {
		return string(t.head)
	}
	return string(t.head) + "\n" + string(t.end)
}
