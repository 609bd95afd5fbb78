package sandbox

// Page is the envelope of every list response.
type Page[T any] struct {
	Data []T `json:"data"`
	// NextCursor resumes after the last item of Data; "" on the last page.
	NextCursor string `json:"next_cursor"`
	// HasMore is exact: when true, the next page holds at least one item.
	HasMore bool `json:"has_more"`
}

// collectPage walks positions from start up to end (exclusive) and keeps
// up to q.limit items that get accepts. next, when not nil, jumps to the
// first position at or after p that can match, so sparse filters do not
// visit every position. One accepted item beyond the page is looked for
// so that HasMore is exact.
func collectPage[T any](res resource, q listQuery, start, end int, next func(int) int, get func(int) (T, bool)) Page[T] {
	page := Page[T]{Data: make([]T, 0, min(q.limit, max(end-start, 0)))}
	resume := start
	for i := start; ; i++ {
		if next != nil {
			i = next(i)
		}
		if i >= end {
			return page
		}
		item, ok := get(i)
		if !ok {
			continue
		}
		if len(page.Data) == q.limit {
			page.HasMore = true
			page.NextCursor = encodeCursor(res, resume, q.fingerprint())
			return page
		}
		page.Data = append(page.Data, item)
		resume = i + 1
	}
}
