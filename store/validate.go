package store

import (
	"fmt"
	"math"
)

// validatePage checks everything CommitPage will write before the
// transaction starts, so a bad record never leaves half a page behind.
// It fills in p.Run.Connection and p.Checkpoint's defaults (p is the
// caller's copy); records in slices are defaulted while writing, never
// mutated in the caller's arrays.
func (t *Tenant) validatePage(p *Page) error {
	if err := checkID("page.connection", p.Connection); err != nil {
		return err
	}
	if p.Run.Connection == "" {
		p.Run.Connection = p.Connection
	}
	if err := sameAs("run.connection", p.Run.Connection, p.Connection); err != nil {
		return err
	}
	if err := validateRun(&p.Run); err != nil {
		return err
	}
	conn, run := p.Connection, p.Run.ID
	var scratch []byte // for entityIDMatches
	// Field names are built only on error: this runs for every object.
	for i := range p.Objects {
		if err := t.validateObject(&p.Objects[i], conn, run, &scratch); err != nil {
			return inField("objects", i, err)
		}
	}
	for i := range p.Edges {
		if err := validateEdge(&p.Edges[i], conn, run); err != nil {
			return inField("edges", i, err)
		}
	}
	for i := range p.Lineage {
		if err := validateLineage(&p.Lineage[i], conn, run); err != nil {
			return inField("lineage", i, err)
		}
	}
	for i, e := range p.Deletions {
		if err := checkEntity("entity_id", e); err != nil {
			return inField("deletions", i, err)
		}
	}
	if p.Checkpoint.Stream == "" {
		return nil
	}
	c := &p.Checkpoint
	if c.Connection == "" {
		c.Connection = conn
	}
	if c.RunID == "" {
		c.RunID = run
	}
	return firstErr(
		sameAs("checkpoint.connection", c.Connection, conn),
		sameAs("checkpoint.run_id", c.RunID, run),
		checkName("checkpoint.kind", c.Kind),
		checkName("checkpoint.stream", c.Stream),
	)
}

func (t *Tenant) validateObject(o *Object, conn, run string, scratch *[]byte) error {
	if err := firstErr(
		checkEntity("entity_id", o.EntityID),
		sameOrEmpty("connection", o.Connection, conn),
		sameOrEmpty("run_id", o.RunID, run),
		checkName("connector", o.Connector),
		checkName("type", o.Type),
		checkDigest("digest", o.Digest),
	); err != nil {
		return err
	}
	if o.SourceID == "" {
		return invalid("source_id", "", "must be set")
	}
	if len(o.Data) == 0 {
		return invalid("data", "", "must be set")
	}
	// The entity id is derived, never chosen: a mismatch is a caller bug
	// that would let one remote object shadow another.
	if !entityIDMatches(scratch, o.EntityID, t.id, o.Connector, o.Type, o.SourceID) {
		return invalid("entity_id", o.EntityID, "is not EntityID(tenant, connector, type, source_id) = "+
			EntityID(t.id, o.Connector, o.Type, o.SourceID))
	}
	return nil
}

func validateEdge(e *Edge, conn, run string) error {
	return firstErr(
		sameOrEmpty("connection", e.Connection, conn),
		sameOrEmpty("run_id", e.RunID, run),
		checkName("type", e.Type),
		checkEntity("from", e.From),
		checkEntity("to", e.To),
		checkConfidence("confidence", e.Confidence),
	)
}

func validateLineage(l *Lineage, conn, run string) error {
	err := firstErr(
		checkEntity("entity_id", l.EntityID),
		sameOrEmpty("connection", l.Connection, conn),
		sameOrEmpty("run_id", l.RunID, run),
		checkTime("observed_at", l.ObservedAt),
		checkConfidence("confidence", l.Confidence),
	)
	if err == nil && l.EdgeType != "" {
		err = checkName("edge_type", l.EdgeType)
	}
	return err
}

func validateRun(r *Run) error {
	err := firstErr(
		checkName("run.id", r.ID),
		checkID("run.connection", r.Connection),
		checkName("run.kind", r.Kind),
		checkName("run.state", r.State),
		checkTime("run.started_at", r.StartedAt),
	)
	if err == nil && r.FinishedAt.After(maxKeyTime) {
		err = invalid("run.finished_at", r.FinishedAt.String(), "must be before 2262")
	}
	return err
}

// inField qualifies the field of a record's ValidationError with the
// record's place in the page, e.g. "objects[3].type".
func inField(list string, i int, err error) error {
	if v, ok := err.(*ValidationError); ok {
		c := *v
		c.Field = fmt.Sprintf("%s[%d].%s", list, i, v.Field)
		return &c
	}
	return err
}

func checkConfidence(field string, c float64) error {
	if math.IsNaN(c) || c < 0 || c > 1 {
		return invalid(field, fmt.Sprint(c), "must be in [0,1]")
	}
	return nil
}

func sameAs(field, got, want string) error {
	if got != want {
		return invalid(field, got, fmt.Sprintf("must equal %q", want))
	}
	return nil
}

func sameOrEmpty(field, got, want string) error {
	if got == "" {
		return nil
	}
	return sameAs(field, got, want)
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
