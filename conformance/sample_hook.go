package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// sampleHooks waits (at most 10 s) for up to n deliveries and returns
// the first whose event is about an object type the manifest declares
// (own), and the deliveries about types it does not (foreign): the
// sandbox names its events "<object type>.<verb>" (user.updated,
// ticket.updated) and sends every subscriber all of them. Without an own
// event, own is the first delivery.
func sampleHooks(ctx context.Context, got <-chan capturedHook, n int, m *protocol.Manifest) (own capturedHook, foreign []capturedHook, err error) {
	var hooks []capturedHook
	timeout := time.After(10 * time.Second)
wait:
	for len(hooks) < n {
		select {
		case h := <-got:
			hooks = append(hooks, h)
		case <-timeout:
			break wait
		case <-ctx.Done():
			return capturedHook{}, nil, ctx.Err()
		}
	}
	if len(hooks) == 0 {
		return capturedHook{}, nil, errors.New("the sample tenant delivered no event within 10 s")
	}
	found := -1
	for i, h := range hooks {
		var ev struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(h.body, &ev) != nil {
			continue
		}
		typ, _, _ := strings.Cut(ev.Type, ".")
		switch {
		case !slices.ContainsFunc(m.ObjectTypes, func(ot protocol.ObjectType) bool { return ot.Name == typ }):
			foreign = append(foreign, h)
		case found < 0:
			found = i
		}
	}
	if found < 0 {
		return hooks[0], foreign, nil
	}
	return hooks[found], foreign, nil
}
