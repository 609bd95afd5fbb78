package api

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/sluicehq/sluice/store"
)

// listFieldNames maps store.ListOptions' field names to query parameters.
var listFieldNames = map[string]string{
	"connection": "query.connection", "type": "query.type", "after": "query.after",
}

// listOptions reads ?connection=&type=&after=&limit=.
func listOptions(r *http.Request) (store.ListOptions, error) {
	limit, err := queryLimit(r)
	if err != nil {
		return store.ListOptions{}, err
	}
	q := r.URL.Query()
	return store.ListOptions{Connection: q.Get("connection"), Type: q.Get("type"), After: q.Get("after"), Limit: limit}, nil
}

func (s *Server) listObjects(w http.ResponseWriter, r *http.Request) {
	o, err := listOptions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	objs, next, err := tenantFrom(r.Context()).Objects(r.Context(), o)
	if err != nil {
		s.writeError(w, r, renameFields(err, listFieldNames))
		return
	}
	writeJSON(w, http.StatusOK, newPage(objs, next))
}

func (s *Server) getObject(w http.ResponseWriter, r *http.Request) {
	obj, err := tenantFrom(r.Context()).Object(r.Context(), param(r, "entity_id"))
	if err != nil {
		s.writeError(w, r, pathNotFound(err, "path.entity_id"))
		return
	}
	writeJSON(w, http.StatusOK, obj)
}

func (s *Server) listEdges(w http.ResponseWriter, r *http.Request) {
	o, err := listOptions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	edges, next, err := tenantFrom(r.Context()).Edges(r.Context(), o)
	if err != nil {
		s.writeError(w, r, renameFields(err, listFieldNames))
		return
	}
	writeJSON(w, http.StatusOK, newPage(edges, next))
}

// LineageResponse is the answer to GET …/lineage?entity_id=.
type LineageResponse struct {
	EntityID string          `json:"entity_id"`
	Items    []store.Lineage `json:"items"`
}

func (s *Server) getLineage(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("entity_id")
	if id == "" {
		s.writeError(w, r, invalidField("query.entity_id", "is required"))
		return
	}
	events, err := tenantFrom(r.Context()).Lineage(r.Context(), id)
	if err != nil {
		s.writeError(w, r, renameFields(err, map[string]string{"entity id": "query.entity_id"}))
		return
	}
	if events == nil {
		events = []store.Lineage{}
	}
	writeJSON(w, http.StatusOK, LineageResponse{EntityID: id, Items: events})
}

// ReceiptInfo is a receipt as listed; GET …/receipts/{receipt} returns
// the signed envelope itself.
type ReceiptInfo struct {
	ID        string    `json:"id"`
	RunID     string    `json:"run_id,omitempty"`
	Kind      string    `json:"kind"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	Href      string    `json:"href"`
}

// errPageFull stops a receipt scan once a page and one more are found.
var errPageFull = errors.New("page full")

// listReceipts pages through the tenant's receipts in id order, with an
// optional ?run= filter. The store offers only a full scan, so a page
// costs a scan up to its end; fine for the receipt counts of today, and
// the place to add an index when that changes.
func (s *Server) listReceipts(w http.ResponseWriter, r *http.Request) {
	limit, err := queryLimit(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	after, run := q.Get("after"), q.Get("run")
	t := tenantFrom(r.Context())
	var items []ReceiptInfo
	next := ""
	err = t.Receipts(r.Context(), func(rc store.Receipt) error {
		if (after != "" && rc.ID <= after) || (run != "" && rc.RunID != run) {
			return nil
		}
		if len(items) == limit {
			next = items[len(items)-1].ID
			return errPageFull
		}
		items = append(items, ReceiptInfo{
			ID: rc.ID, RunID: rc.RunID, Kind: rc.Kind, CreatedAt: rc.CreatedAt,
			Href: "/v1/tenants/" + t.ID() + "/receipts/" + url.PathEscape(rc.ID),
		})
		return nil
	})
	if err != nil && !errors.Is(err, errPageFull) {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newPage(items, next))
}

// getReceipt serves the DSSE envelope exactly as signed and stored: a
// verifier checks these bytes, so they are never re-encoded.
func (s *Server) getReceipt(w http.ResponseWriter, r *http.Request) {
	rc, err := tenantFrom(r.Context()).Receipt(r.Context(), param(r, "receipt"))
	if err != nil {
		s.writeError(w, r, pathNotFound(err, "path.receipt"))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Sluice-Receipt-Kind", rc.Kind)
	if rc.RunID != "" {
		h.Set("Sluice-Run-Id", rc.RunID)
	}
	_, _ = w.Write(rc.Envelope)
}

// UsageResponse is the answer to GET /v1/tenants/{tenant}/usage.
type UsageResponse struct {
	Tenant string              `json:"tenant"`
	From   string              `json:"from"`
	To     string              `json:"to"`
	Items  []store.UsageRecord `json:"items"`
	Total  store.Usage         `json:"total"`
}

// maxUsageDays bounds one usage query.
const maxUsageDays = 366

// usageRange reads ?from=&to= (days, both included); the default is the
// 30 days ending today (UTC).
func (s *Server) usageRange(r *http.Request) (from, to string, err error) {
	q := r.URL.Query()
	today := s.now().UTC()
	to, from = q.Get("to"), q.Get("from")
	var fields []FieldError
	toDay, errTo := parseDay(to, today)
	if errTo != nil {
		fields = append(fields, FieldError{Field: "query.to", Message: "must be a day as YYYY-MM-DD"})
	}
	fromDay, errFrom := parseDay(from, toDay.AddDate(0, 0, -29))
	if errFrom != nil {
		fields = append(fields, FieldError{Field: "query.from", Message: "must be a day as YYYY-MM-DD"})
	}
	if len(fields) == 0 {
		switch {
		case fromDay.After(toDay):
			fields = append(fields, FieldError{Field: "query.from", Message: "must not be after to"})
		case toDay.Sub(fromDay) >= maxUsageDays*24*time.Hour:
			fields = append(fields, FieldError{Field: "query.from", Message: "the range is at most 366 days"})
		}
	}
	if len(fields) > 0 {
		return "", "", &ValidationError{Errors: fields}
	}
	return fromDay.Format(store.DayLayout), toDay.Format(store.DayLayout), nil
}

func parseDay(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return time.Date(def.Year(), def.Month(), def.Day(), 0, 0, 0, 0, time.UTC), nil
	}
	return time.Parse(store.DayLayout, s)
}

func (s *Server) getUsage(w http.ResponseWriter, r *http.Request) {
	from, to, err := s.usageRange(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t := tenantFrom(r.Context())
	recs, err := t.Usage(r.Context(), from, to)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	connector := r.URL.Query().Get("connector")
	out := UsageResponse{Tenant: t.ID(), From: from, To: to, Items: []store.UsageRecord{}}
	for _, rec := range recs {
		if connector != "" && rec.Connector != connector {
			continue
		}
		out.Items = append(out.Items, rec)
		out.Total = addUsage(out.Total, rec.Usage)
	}
	writeJSON(w, http.StatusOK, out)
}

// addUsage sums for the response total; the per-day records are far
// from overflowing, and a saturated total is still honest.
func addUsage(a, b store.Usage) store.Usage {
	sat := func(x, y int64) int64 {
		if x > 0 && y > 0 && x+y < 0 {
			return 1<<63 - 1
		}
		return x + y
	}
	return store.Usage{
		Records: sat(a.Records, b.Records), Bytes: sat(a.Bytes, b.Bytes), RemoteCalls: sat(a.RemoteCalls, b.RemoteCalls),
		WasmMillis: sat(a.WasmMillis, b.WasmMillis), Runs: sat(a.Runs, b.Runs),
	}
}
