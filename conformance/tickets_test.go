package conformance_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/conformance"
)

// The tickets example is ingest only: it reaches Bronze and not Silver,
// and the checks that keep it from Silver are the ones about what it
// lacks (actions), not accidents of an ingest connector. Asked for
// Silver, the report does not pass.
func TestTicketsReachesBronzeNotSilver(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole suite")
	}
	t.Parallel()
	rep, err := conformance.Certify(t.Context(), target(t, "tickets"), testOptions(t, "tickets", conformance.WithLevel(conformance.Silver))...)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Connector != "tickets" || rep.Claimed != conformance.Bronze || rep.Requested != conformance.Silver {
		t.Fatalf("connector %q claimed %s requested %s", rep.Connector, rep.Claimed, rep.Requested)
	}
	for _, r := range rep.Results {
		if r.Level == conformance.Bronze && r.Status != conformance.Pass {
			t.Errorf("bronze check %s: %s: %s\nevidence: %s", r.ID, r.Status, r.Reason, r.Evidence)
		}
	}
	if rep.Reached != conformance.Bronze || rep.Passed {
		t.Errorf("reached %s, passed %v at silver; want bronze, not passed", rep.Reached, rep.Passed)
	}
	var silverFailed []string
	for _, r := range rep.Results {
		if r.Level == conformance.Silver && r.Status != conformance.Pass {
			silverFailed = append(silverFailed, r.ID)
		}
	}
	if want := []string{"security.action-approval"}; !slices.Equal(silverFailed, want) {
		for _, id := range silverFailed {
			r, _ := rep.Result(id)
			t.Logf("%s: %s: %s", id, r.Status, r.Reason)
		}
		t.Errorf("silver checks not passed: %v, want %v", silverFailed, want)
	}
	// Its webhook export is exercised on a ticket event and de-duplicates.
	if r, _ := rep.Result("reliability.webhook-dedup"); r.Status != conformance.Pass {
		t.Errorf("webhook-dedup: %s: %s", r.Status, r.Reason)
	}
}

// webhook-twice fails the redelivery check for its own reason: the host
// processed one event once per delivery, not a missing export.
func TestWebhookTwiceFailsOnTheRedelivery(t *testing.T) {
	t.Parallel()
	r, ok := reports(t)["webhook-twice"].Result("reliability.webhook-dedup")
	if !ok || r.Status != conformance.Fail || !strings.Contains(r.Reason, "processed 3 times") {
		t.Fatalf("webhook-dedup: %s: %s", r.Status, r.Reason)
	}
}
