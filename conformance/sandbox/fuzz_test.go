package sandbox

import (
	"bytes"
	"errors"
	"net/http"
	"testing"
)

// FuzzParseListQuery feeds arbitrary query strings (cursors included) to
// the list parser: it must never panic, must fail only with the two query
// sentinels, and what it accepts must be in range.
func FuzzParseListQuery(f *testing.F) {
	const total = 300
	valid := encodeCursor(usersResource, 120, listQuery{}.fingerprint())
	for _, seed := range []string{
		"",
		"limit=10",
		"limit=5000&cursor=" + valid,
		"cursor=" + valid,
		"cursor=" + encodeCursor(usersResource, total+1, listQuery{}.fingerprint()),
		"updated_since=2024-01-01T00:00:00.5Z&created_from=2021-01-01T00:00:00Z&created_to=2022-01-01T00:00:00%2B02:00",
		"limit=1&limit=2",
		"created_from=2022-01-01T00:00:00Z&created_to=2021-01-01T00:00:00Z",
		"cursor=dXNlcnM6LTE6MDAwMDAwMDA",
		"%zz=1;x",
		"foo=bar",
	} {
		f.Add(seed, uint8(0))
	}
	resources := []resource{usersResource, groupsResource, membershipsResource}
	f.Fuzz(func(t *testing.T, raw string, which uint8) {
		res := resources[int(which)%len(resources)]
		q, err := parseListQuery(res, raw, total)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || (!errors.Is(err, ErrInvalidQuery) && !errors.Is(err, ErrInvalidCursor)) || err.Error() == "" {
				t.Fatalf("%q: error %T %v is not a query FieldError", raw, err, err)
			}
			return
		}
		if q.limit < 1 || q.limit > maxLimit || q.start < 0 || q.start > total {
			t.Fatalf("%q: accepted out-of-range %+v", raw, q)
		}
		if q.set&^res.filters != 0 {
			t.Fatalf("%q: %s accepted a filter it does not support: %+v", raw, res.name, q)
		}
		if q.has(filterCreatedFrom) && q.has(filterCreatedTo) && q.createdFrom > q.createdTo {
			t.Fatalf("%q: accepted an inverted range", raw)
		}
		// A cursor the server issues for q is accepted back by q.
		c := encodeCursor(res, q.start, q.fingerprint())
		if pos, err := decodeCursor(c, res, q.fingerprint(), total); err != nil || pos != q.start {
			t.Fatalf("%q: round trip of %q = %d, %v", raw, c, pos, err)
		}
	})
}

// FuzzDecodeCursor: any string is either a cursor in range or an
// ErrInvalidCursor, and an accepted cursor is the canonical encoding.
func FuzzDecodeCursor(f *testing.F) {
	fp := listQuery{}.fingerprint()
	for _, seed := range []string{"", "!!!", encodeCursor(groupsResource, 3, fp), encodeCursor(usersResource, 0, fp), "dXNlcnM6MDA6MDAwMDAwMDA"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, c string) {
		pos, err := decodeCursor(c, groupsResource, fp, 50)
		if err != nil {
			if !errors.Is(err, ErrInvalidCursor) {
				t.Fatalf("%q: %v", c, err)
			}
			return
		}
		if pos < 0 || pos > 50 || encodeCursor(groupsResource, pos, fp) != c {
			t.Fatalf("%q accepted as %d", c, pos)
		}
	})
}

// FuzzWriteBodies feeds arbitrary bytes to the strict decoder of the
// write API and the control plane's subscription body: it must never
// panic, and every refusal is a FieldError wrapping ErrInvalidBody.
func FuzzWriteBodies(f *testing.F) {
	for _, seed := range []string{
		`{"email":"a@b.test","name":"A","department":"IT","title":"Admin"}`,
		`{"user_id":"u-0000001"}`,
		`{"url":"http://127.0.0.1:1/x","secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw","sign":false,"backoff":"5ms"}`,
		`{"email":7}`, `[1,2]`, `{"x":1}`, `{"email":"a"} {}`, `null`, ``, "{\"name\":\"\xff\"}",
	} {
		f.Add([]byte(seed), uint8(0))
	}
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		targets := []any{&NewUser{}, &addMemberBody{}, &SubscribeRequest{}}
		v := targets[int(which)%len(targets)]
		r, err := http.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if err := decodeStrict(r, v); err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalidBody) || fe.Field == "" {
				t.Fatalf("%q: error %T %v", body, err, err)
			}
			return
		}
		switch b := v.(type) {
		case *NewUser:
			// What decodes is then validated by CreateUser without panicking.
			s := New(Config{})
			if _, _, err := s.CreateUser(*b, "fuzz"); err != nil && !errors.Is(err, ErrInvalidUser) && !errors.Is(err, ErrEmailTaken) {
				t.Fatalf("%q: CreateUser: %v", body, err)
			}
		case *SubscribeRequest:
			if _, err := b.Delivery(); err != nil && !errors.Is(err, ErrInvalidSubscription) {
				t.Fatalf("%q: Delivery: %v", body, err)
			}
		}
	})
}
