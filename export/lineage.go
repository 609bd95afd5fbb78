package export

import (
	"net/url"
	"time"

	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

// OpenLineage (https://openlineage.io/spec) names. The types are written
// here rather than taken from a client library: a bundle only needs the
// RunEvent shape, and the Go client pulls in its transports.
const (
	OpenLineageSchemaURL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
	Producer             = "https://github.com/sluicehq/sluice"
	lineageFacetSchema   = "https://sluice.dev/schemas/openlineage/sluice-lineage-run-facet/v1.json"
	EventComplete        = "COMPLETE"
	EventFail            = "FAIL"
)

// RunEvent is an OpenLineage RunEvent for one ingest run: eventType
// COMPLETE (or FAIL for a failed run), the run id, the job
// {namespace "sluice://{tenant}", name "{connection}.{kind}"}, the
// remote's object types as inputs and the stored ones as outputs. The
// run facet "sluice_lineage" lists the store's lineage events of the
// run's exported objects.
type RunEvent struct {
	EventType string    `json:"eventType"`
	EventTime string    `json:"eventTime"`
	Producer  string    `json:"producer"`
	SchemaURL string    `json:"schemaURL"`
	Run       Run       `json:"run"`
	Job       Job       `json:"job"`
	Inputs    []Dataset `json:"inputs"`
	Outputs   []Dataset `json:"outputs"`
}

// Run is the run of a RunEvent.
type Run struct {
	RunID  string    `json:"runId"`
	Facets RunFacets `json:"facets"`
}

// RunFacets are the run facets Sluice writes.
type RunFacets struct {
	Lineage LineageFacet `json:"sluice_lineage"`
}

// LineageFacet is a custom run facet: the lineage events of the run.
// Source object ids are left out: they are the remote's identifiers,
// which a role without PII rights must not see; the disclosure's own
// id field carries them under the role's rules.
type LineageFacet struct {
	Producer  string         `json:"_producer"`
	SchemaURL string         `json:"_schemaURL"`
	ReceiptID string         `json:"receipt_id"`
	Events    []LineageEvent `json:"events"`
}

// LineageEvent is one stored lineage event, without its source id.
type LineageEvent struct {
	EntityID   string  `json:"entity_id"`
	ObjectType string  `json:"object_type"`
	EdgeType   string  `json:"edge_type,omitempty"`
	Confidence float64 `json:"confidence"`
	ObservedAt string  `json:"observed_at"`
}

// Job is the job of a RunEvent.
type Job struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// Dataset is an input or output dataset of a RunEvent.
type Dataset struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

func jobNamespace(tenant string) string { return "sluice://" + tenant }

// sourceNamespace is the remote's namespace: its base URL's scheme and
// host when known, otherwise the connector.
func sourceNamespace(p receipt.Ingest) string {
	if u, err := url.Parse(p.Source.BaseURL); err == nil && u.Scheme != "" && u.Host != "" {
		return u.Scheme + "://" + u.Host
	}
	return "sluice-connector://" + p.ConnectorID
}

// runEvent builds the RunEvent of one verified ingest receipt; types are
// the object types of its exported objects, events their lineage.
func runEvent(tenant, receiptID string, p receipt.Ingest, types []string, events []store.Lineage) RunEvent {
	ev := RunEvent{
		EventType: EventComplete, EventTime: p.FinishedAt, Producer: Producer, SchemaURL: OpenLineageSchemaURL,
		Run: Run{RunID: p.RunID, Facets: RunFacets{Lineage: LineageFacet{
			Producer: Producer, SchemaURL: lineageFacetSchema, ReceiptID: receiptID, Events: []LineageEvent{},
		}}},
		Job:     Job{Namespace: jobNamespace(tenant), Name: p.Connection + "." + p.Kind},
		Inputs:  []Dataset{},
		Outputs: []Dataset{},
	}
	if p.Status != receipt.StatusSucceeded {
		ev.EventType = EventFail
	}
	for _, typ := range types {
		ev.Inputs = append(ev.Inputs, Dataset{Namespace: sourceNamespace(p), Name: p.ConnectorID + "." + typ})
		ev.Outputs = append(ev.Outputs, Dataset{Namespace: jobNamespace(tenant), Name: p.Connection + "/" + typ})
	}
	for _, l := range events {
		ev.Run.Facets.Lineage.Events = append(ev.Run.Facets.Lineage.Events, LineageEvent{
			EntityID: l.EntityID, ObjectType: l.ObjectType, EdgeType: l.EdgeType, Confidence: l.Confidence,
			ObservedAt: l.ObservedAt.UTC().Format(time.RFC3339Nano),
		})
	}
	return ev
}
