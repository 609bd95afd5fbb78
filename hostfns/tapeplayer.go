package hostfns

import (
	"fmt"
	"sync"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/tape"
)

// TapePlayer answers a replay's requests from a recorded call's exchanges,
// in order. Exchanges refused by policy ([PolicyDenial]) are skipped: the
// replaying [HTTP] refuses them again itself and never asks the player.
// A request whose method or URL differs from the next recorded one is an
// error: the module did not behave as recorded.
type TapePlayer struct {
	mu   sync.Mutex
	ex   []tape.Exchange
	next int
}

// NewTapePlayer returns a player over exchanges (not copied).
func NewTapePlayer(exchanges []tape.Exchange) *TapePlayer {
	return &TapePlayer{ex: exchanges}
}

// Play is an [HTTPConfig.Player].
func (p *TapePlayer) Play(req protocol.HTTPRequest) (protocol.HTTPResponse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.skipPolicy()
	if p.next >= len(p.ex) {
		return protocol.HTTPResponse{}, fmt.Errorf("replay diverged: %s %s was not recorded (tape exhausted)", req.Method, req.URL)
	}
	want := p.ex[p.next].Request
	if want.Method != req.Method || want.URL != req.URL {
		return protocol.HTTPResponse{}, fmt.Errorf("replay diverged: the module asked for %s %s, the tape has %s %s", req.Method, req.URL, want.Method, want.URL)
	}
	p.next++
	return p.ex[p.next-1].Response, nil
}

func (p *TapePlayer) skipPolicy() {
	for p.next < len(p.ex) {
		r := p.ex[p.next].Response
		if r.Status != 0 || !PolicyDenial(r.ErrorType) {
			return
		}
		p.next++
	}
}

// Remaining returns how many recorded exchanges (not counting policy
// refusals) were not played: a complete replay leaves none.
func (p *TapePlayer) Remaining() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.skipPolicy()
	n := 0
	for _, e := range p.ex[p.next:] {
		if e.Response.Status != 0 || !PolicyDenial(e.Response.ErrorType) {
			n++
		}
	}
	return n
}
