package hostfns

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/tape"
)

func testDrops() *Drops {
	d := newDrops()
	d.drop("phone", "+1-555-0100")
	d.drop("title", "Chief Officer")
	d.keep(map[string]any{"name": "Ann", "dept": "Engineering", "age": json.Number("42")})
	// Another type of a mixed call (a webhook) keeps a field of a name
	// this one drops.
	d.keep(map[string]any{"title": "Staff", "phone": json.Number("7")})
	return d
}

func TestDropsJSON(t *testing.T) {
	cases := []struct {
		name, in, want string
		n              int
	}{
		{"dropped field", `{"data":[{"id":"u1","phone":"+1-555-0199","name":"Ann"}]}`,
			`{"data":[{"id":"u1","phone":"[DROPPED]","name":"Ann"}]}`, 1},
		{"dropped value under another name", `{"mobile":"+1-555-0100","job":"Chief Officer"}`,
			`{"mobile":"[DROPPED]","job":"[DROPPED]"}`, 2},
		{"value kept under another name", `{"title":"Engineering","dept":"Engineering"}`, `{"title":"[DROPPED]","dept":"Engineering"}`, 1},
		{"value kept under the same name", `{"title":"Staff"}`, `{"title":"Staff"}`, 0},
		{"dropped value also kept elsewhere", `{"x":"Engineering"}`, `{"x":"Engineering"}`, 0},
		{"number under a dropped name", `{"phone":5550100,"age":7}`, `{"phone":0,"age":7}`, 1},
		{"number kept under another name", `{"phone":42}`, `{"phone":0}`, 1},
		{"number kept under the same name", `{"phone":7}`, `{"phone":7}`, 0},
		{"nested under a dropped name", `{"phone":{"title":"Staff","n":"Staff"}}`, `{"phone":{"title":"[DROPPED]","n":"[DROPPED]"}}`, 2},
		{"container under a dropped name", `{"phone":{"home":"x","n":[1,"y",true,null]},"ok":"z"}`,
			`{"phone":{"home":"[DROPPED]","n":[0,"[DROPPED]",true,null]},"ok":"z"}`, 3},
		{"booleans and null keep", `{"phone":true,"title":null}`, `{"phone":true,"title":null}`, 0},
		{"layout is kept", "{ \"a\" : 1 ,\n  \"phone\" :\t\"zz\" }", "{ \"a\" : 1 ,\n  \"phone\" :\t\"[DROPPED]\" }", 1},
		{"a name as a value is not a field", `["phone","title"]`, `["phone","title"]`, 0},
		{"key of a nested object", `{"a":{"phone":"x"},"phone2":"y"}`, `{"a":{"phone":"[DROPPED]"},"phone2":"y"}`, 1},
		{"embedded JSON document", `{"body":"{\"phone\":\"x\"}"}`, `{"body":"{\"phone\":\"[DROPPED]\"}"}`, 1},
		{"escaped strings", `{"phone":"a\"b\u00e9","x":"+1-555-0100"}`, `{"phone":"[DROPPED]","x":"[DROPPED]"}`, 2},
		{"not JSON", `phone=+1-555-0100`, `phone=+1-555-0100`, 0},
		{"empty", ``, ``, 0},
	}
	d := testDrops()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, n := d.JSON([]byte(c.in))
			if string(got) != c.want || n != c.n {
				t.Fatalf("JSON(%s) = %s, %d; want %s, %d", c.in, got, n, c.want, c.n)
			}
		})
	}
}

// A recorded call loses the dropped values from its input and its
// answers' bodies, JSON or not, and counts them.
func TestDropsCall(t *testing.T) {
	c := tape.Call{
		Export: protocol.ExportWebhook,
		Input:  json.RawMessage(`{"headers":{},"body":{"user":{"phone":"+1-555-0100"}}}`),
		Exchanges: []tape.Exchange{
			{Response: protocol.HTTPResponse{Status: 200, Body: []byte(`{"phone":"+1-555-0100"}`)}},
			{Response: protocol.HTTPResponse{Status: 200, Body: []byte("id,phone\nu1,+1-555-0100\n")}},
			{Response: protocol.HTTPResponse{Status: 0, Error: "refused"}},
		},
	}
	if n := testDrops().Call(&c); n != 3 || c.Minimised != 3 {
		t.Fatalf("Call = %d (minimised %d), want 3", n, c.Minimised)
	}
	b, _ := json.Marshal(c)
	if bytes.Contains(b, []byte("555-0100")) {
		t.Fatalf("a dropped value stayed: %s", b)
	}
	if string(c.Exchanges[1].Response.Body) != "id,phone\nu1,[DROPPED]\n" {
		t.Fatalf("CSV body %q", c.Exchanges[1].Response.Body)
	}
	var nilDrops *Drops
	if nilDrops.Call(&c) != 0 {
		t.Fatal("a nil Drops minimised")
	}
}

// The Emitter notes what it drops while recording: fields outside the
// allow-list, fields narrowed away, and the names a type declares but
// does not keep even when no object carried them.
func TestEmitterDrops(t *testing.T) {
	e := newTestEmitter(t, func(c *EmitConfig) {
		c.Manifest.ObjectTypes[0].Schema = json.RawMessage(`{"type":"object","properties":{"email":{"type":"string"},"name":{"type":"string"},"age":{"type":"integer"},"phone":{"type":"string"},"ssn":{"type":"string"}}}`)
		sch, err := CompileSchemas(c.Manifest)
		if err != nil {
			t.Fatal(err)
		}
		c.Schemas = sch
		c.Narrow = map[string][]string{"user": {"email", "age"}}
		c.Recorder = func(string) {}
	})
	res := emitJSON(t, e, `{"objects":[{"type":"user","id":"u1","data":{"email":"ann@example.test","name":"Ann Example","phone":"+1-555-0100","age":42}}]}`)
	if res.Accepted != 1 {
		t.Fatalf("%+v", res)
	}
	d := e.Drops()
	for _, name := range []string{"phone", "name", "ssn"} {
		if _, ok := d.names[name]; !ok {
			t.Errorf("%q not noted as dropped: %v", name, d.names)
		}
	}
	if _, ok := d.names["email"]; ok {
		t.Error("a kept field was noted as dropped")
	}
	body := `{"users":[{"email":"ann@example.test","full_name":"Ann Example","phone":"+1-555-0100","ssn":"078-05-1120","age":42}]}`
	got, n := d.JSON([]byte(body))
	want := `{"users":[{"email":"ann@example.test","full_name":"[DROPPED]","phone":"[DROPPED]","ssn":"[DROPPED]","age":42}]}`
	if string(got) != want || n != 3 {
		t.Fatalf("minimised %s (%d), want %s", got, n, want)
	}
	if newTestEmitter(t, nil).Drops() != nil {
		t.Error("an Emitter that does not record keeps drops")
	}
}

// Format 2 emit digests do not depend on a dropped field's value: the
// replay of a minimised tape emits [DROPPED] there and must match.
func TestEmitDigestIgnoresDroppedValues(t *testing.T) {
	digest := func(batch string) string {
		var got []string
		e := newTestEmitter(t, func(c *EmitConfig) { c.Recorder = func(d string) { got = append(got, d) } })
		emitJSON(t, e, batch)
		return got[0]
	}
	a := digest(`{"objects":[{"type":"user","id":"u1","data":{"email":"a@example.test","phone":"+1-555-0100"}}]}`)
	b := digest(`{"objects":[{"type":"user","id":"u1","data":{"email":"a@example.test","phone":"[DROPPED]"}}]}`)
	c := digest(`{"objects":[{"type":"user","id":"u1","data":{"email":"b@example.test","phone":"[DROPPED]"}}]}`)
	if a != b {
		t.Error("a dropped field's value changed the emit digest")
	}
	if b == c {
		t.Error("a kept field's value did not change the emit digest")
	}
}

// reference minimises a decoded tree by the same rules, the slow way:
// the differential oracle of FuzzDropsJSON. name is the dropped field
// the value belongs to, if dropped.
func (d *Drops) reference(v any, dropped bool, name string) any {
	switch x := v.(type) {
	case string:
		if dropped {
			if d.keptAs(name, x) {
				return x
			}
			return tape.Dropped
		}
		if _, ok := d.values[x]; ok {
			if _, kept := d.kept[x]; kept {
				return x
			}
			return tape.Dropped
		}
		if t := strings.TrimSpace(x); t != "" && (t[0] == '{' || t[0] == '[') {
			if inner, k := d.JSON([]byte(x)); k > 0 {
				return string(inner)
			}
		}
	case json.Number:
		if dropped && !d.keptAs(name, string(x)) {
			return json.Number("0")
		}
	case []any:
		for i, e := range x {
			x[i] = d.reference(e, dropped, name)
		}
	case map[string]any:
		for k, e := range x {
			if _, named := d.names[k]; named && !dropped {
				x[k] = d.reference(e, true, k)
			} else {
				x[k] = d.reference(e, dropped, name)
			}
		}
	}
	return v
}

func decodeAny(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

func FuzzDropsJSON(f *testing.F) {
	f.Add([]byte(`{"data":[{"id":"u1","phone":"+1-555-0199","name":"Ann"}]}`))
	f.Add([]byte(`{"phone":{"home":"x","n":[1,"y",true,null]},"body":"{\"title\":\"z\"}"}`))
	f.Add([]byte(`[1,2,"Chief Officer", {"ph\u006fne": -1.5e3}]`))
	f.Add([]byte(` { "title" : [ "Engineering" , 42 ] } `))
	f.Add([]byte(`not json`))
	d := testDrops()
	f.Fuzz(func(t *testing.T, b []byte) {
		got, n := d.JSON(b)
		if n == 0 && !bytes.Equal(got, b) {
			t.Fatalf("changed bytes without counting: %q -> %q", b, got)
		}
		if !json.Valid(b) {
			if n != 0 {
				t.Fatalf("minimised input that is not JSON: %q", b)
			}
			return
		}
		if !json.Valid(got) {
			t.Fatalf("output is not JSON: %q -> %q", b, got)
		}
		// The same tree as the slow way gives.
		in, err := decodeAny(b)
		if err != nil {
			return // valid but beyond the decoder (nesting): nothing to compare
		}
		want, _ := json.Marshal(d.reference(in, false, ""))
		out, err := decodeAny(got)
		if err != nil {
			t.Fatal(err)
		}
		have, _ := json.Marshal(out)
		if !bytes.Equal(want, have) {
			t.Fatalf("minimised %q\n to %s\nwant %s", b, have, want)
		}
		again, _ := d.JSON(got)
		if !bytes.Equal(again, got) {
			t.Fatalf("not idempotent: %q -> %q -> %q", b, got, again)
		}
	})
}
