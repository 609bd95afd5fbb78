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

// sampleHook waits (at most 10 s) for up to n deliveries and returns the
// first whose event is about an object type the manifest declares: the
// sandbox names its events "<object type>.<verb>" (user.updated,
// ticket.updated), and a connector is only asked about what it ingests.
// Without such an event it returns the first delivery.
func sampleHook(ctx context.Context, got <-chan capturedHook, n int, m *protocol.Manifest) (capturedHook, error) {
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
			return capturedHook{}, ctx.Err()
		}
	}
	if len(hooks) == 0 {
		return capturedHook{}, errors.New("the sample tenant delivered no event within 10 s")
	}
	for _, h := range hooks {
		var ev struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(h.body, &ev) != nil {
			continue
		}
		typ, _, _ := strings.Cut(ev.Type, ".")
		if slices.ContainsFunc(m.ObjectTypes, func(ot protocol.ObjectType) bool { return ot.Name == typ }) {
			return h, nil
		}
	}
	return hooks[0], nil
}
